// The dashboard in a real headless Chromium: a real server process stores
// documents sent over TCP into SQLite, a real stats process serves the
// page, and the page must show each new block and redraw its chart without
// a reload and without a single console error. Screenshots are saved to
// tests/artifacts/.
import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { encodeNetstring } from "../../lib/shared/netstring.ts";
import { SqliteWriter } from "../../lib/store/sqlite.ts";
import { makeDocument } from "../_helpers/db.ts";
import { freePort, sendRaw, waitFor } from "../_helpers/net.ts";
import { runProgram, startServer } from "../_helpers/process.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = new URL("../artifacts/", import.meta.url);

async function launch(): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
    ],
  });
}

/** Collects everything the page reports as going wrong. */
function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") {
      problems.push(`console ${m.type()}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return problems;
}

async function startStats(sqlitePath: string) {
  const port = freePort();
  const child = runProgram("stats.ts", [
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--sqlite-path",
    sqlitePath,
  ]);
  await child.waitForLine(/^Stats API listening on /);
  return { child, url: `http://127.0.0.1:${port}/` };
}

async function screenshot(page: Page, name: string, fullPage = true) {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const path = new URL(name, ARTIFACTS).pathname;
  await page.screenshot({ path, fullPage });
  assert.ok((await Deno.stat(path)).size > 10_000, "screenshot written");
}

Deno.test("dashboard: shows each new block and redraws the chart as documents arrive", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eth_dashboard_" });
  const sqlitePath = `${dir}/eth.sqlite`;
  let browser: Browser | undefined;
  try {
    await using server = await startServer(["--sqlite-path", sqlitePath]);
    const stats = await startStats(sqlitePath);
    try {
      const send = async (block: number) =>
        await sendRaw(
          server.port,
          encodeNetstring((await makeDocument(block)).payload),
        );
      await send(21_000_000);
      await waitFor(async () => {
        const r = await fetch(`${stats.url}api/summary`);
        return (await r.json()).documents === 1;
      }, { what: "the first document to be stored" });

      browser = await launch();
      const page = await browser.newPage({
        viewport: { width: 1280, height: 900 },
      });
      const problems = watchProblems(page);
      const response = await page.goto(`${stats.url}dashboard`);
      assert.equal(response?.status(), 200);
      assert.match(
        response?.headers()["content-security-policy"] ?? "",
        /default-src 'none'; script-src 'self'/,
      );
      await page.waitForSelector('#latest-block[data-block="21000000"]');
      assert.equal(await page.textContent("#latest-block"), "21,000,000");
      assert.equal(await page.getAttribute("#chart", "data-total"), "1");
      assert.equal(await page.locator("#chart rect.bar").count(), 30);
      assert.equal(await page.textContent("#documents"), "1");
      assert.equal(await page.getAttribute("#status", "data-state"), "live");

      // Marks the document: a reload would lose it.
      await page.evaluate(() => {
        (globalThis as unknown as { marker: number }).marker = 42;
      });
      for (let block = 21_000_001; block <= 21_000_003; block++) {
        await send(block);
        await page.waitForSelector(`#latest-block[data-block="${block}"]`, {
          timeout: 15_000,
        });
      }
      await page.waitForSelector('#chart[data-total="4"]', { timeout: 15_000 });
      const bars = await page.$$eval(
        "#chart rect.bar",
        (rects) => rects.map((r) => Number(r.getAttribute("data-count"))),
      );
      assert.equal(bars.reduce((a, b) => a + b, 0), 4);
      assert.equal(await page.textContent("#documents"), "4");
      assert.equal(await page.textContent("#client-count"), "1");
      const clientRow = await page.$$eval(
        "#clients tbody tr:first-child td",
        (tds) => tds.map((td) => td.textContent),
      );
      assert.deepEqual(clientRow.slice(0, 2), ["127.0.0.1", "4"]);
      const firstBlock = await page.textContent(
        "#blocks tbody tr:first-child td:first-child",
      );
      assert.equal(firstBlock, "21,000,003");
      assert.equal(
        await page.evaluate(() =>
          (globalThis as unknown as { marker: number }).marker
        ),
        42,
        "no full reload",
      );
      await screenshot(page, "dashboard.png");
      assert.deepEqual(problems, []);
    } finally {
      await browser?.close();
      await stats.child.stop("SIGTERM");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dashboard: draws half an hour of history per minute, several clients", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eth_dashboard_" });
  const sqlitePath = `${dir}/eth.sqlite`;
  let browser: Browser | undefined;
  try {
    // 30 minutes of mainnet-like traffic: a block every 12 s, seen by three
    // clients through two servers, with a 3-minute outage.
    const now = Date.now();
    const minute = Math.floor(now / 60_000) * 60_000;
    const start = minute - 29 * 60_000;
    const docs = [];
    let block = 21_400_000;
    for (let t = start; t <= now; t += 12_000) {
      block++;
      if (t >= minute - 12 * 60_000 && t < minute - 9 * 60_000) continue;
      const copies = [];
      for (
        const [i, ip] of ["10.0.1.5", "10.0.2.9", "2001:db8::17"].entries()
      ) {
        if (i === 2 && block % 4 === 0) continue;
        copies.push(
          await makeDocument(block, {
            ip,
            // Which client's copy arrives first varies from block to block.
            receivedAt: t + ((i + block) % 3) * 150,
            server: i === 1 ? "eth-server-b:8888" : "eth-server-a:8888",
          }),
        );
      }
      docs.push(...copies.sort((x, y) => x.receivedAt - y.receivedAt));
    }
    const writer = SqliteWriter.open(sqlitePath);
    await writer.save(docs);
    await writer.close();
    const firsts = new Map<string, number>();
    for (const d of docs) {
      if (!firsts.has(d.hash)) firsts.set(d.hash, d.receivedAt);
    }
    const countIn = (from: number) =>
      [...firsts.values()].filter((t) => t >= from && t < from + 60_000)
        .length;

    const stats = await startStats(sqlitePath);
    try {
      browser = await launch();
      const page = await browser.newPage({
        viewport: { width: 1280, height: 900 },
      });
      const problems = watchProblems(page);
      await page.goto(`${stats.url}dashboard`);
      await page.waitForSelector(`#latest-block[data-block="${block}"]`);
      // Buckets are the page's own minutes (the clock may have moved on).
      const bars = await page.$$eval(
        "#chart rect.bar",
        (rects) =>
          rects.map((r) => [
            Number(r.getAttribute("data-start")),
            Number(r.getAttribute("data-count")),
          ]),
      );
      assert.equal(bars.length, 30);
      assert.ok(bars[29][0] >= minute, "the last bar is the current minute");
      for (const [from, count] of bars) {
        assert.equal(count, countIn(from), `minute ${new Date(from)}`);
      }
      const outage = bars.filter(([from]) =>
        from >= minute - 12 * 60_000 && from < minute - 9 * 60_000
      );
      assert.equal(outage.length, 3);
      assert.ok(outage.every(([, count]) => count === 0), "the outage");
      assert.ok(bars.filter(([, count]) => count >= 4).length >= 20);
      assert.equal(await page.textContent("#client-count"), "3");
      assert.equal(await page.locator("#clients tbody tr").count(), 3);
      assert.equal(await page.locator("#blocks tbody tr").count(), 10);
      await screenshot(page, "dashboard-history.png");
      assert.deepEqual(problems, []);
    } finally {
      await browser?.close();
      await stats.child.stop("SIGTERM");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dashboard: gaps, servers and rate update without reload, at desktop and phone sizes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eth_dashboard_" });
  const sqlitePath = `${dir}/eth.sqlite`;
  let browser: Browser | undefined;
  try {
    // Blocks 100-119, one every 3 s over the last minute, 105-107 withheld.
    const now = Date.now();
    const blocks = Array.from({ length: 20 }, (_, i) => 100 + i);
    const stored = blocks.filter((b) => b < 105 || b > 107);
    const writer = SqliteWriter.open(sqlitePath);
    await writer.save(
      await Promise.all(stored.map((b) =>
        makeDocument(b, {
          receivedAt: now - 60_000 + (b - 100) * 3000,
          server: b % 2 ? "eth-server-b:8888" : "eth-server-a:8888",
        })
      )),
    );
    await writer.close();
    await using server = await startServer(["--sqlite-path", sqlitePath]);
    const stats = await startStats(sqlitePath);
    try {
      browser = await launch();
      const page = await browser.newPage({
        viewport: { width: 1280, height: 800 },
      });
      const problems = watchProblems(page);
      await page.goto(`${stats.url}dashboard`);
      await page.waitForSelector('#missing[data-missing="3"]');
      const gapRows = await page.$$eval(
        "#gaps tbody tr",
        (trs) => trs.map((tr) => tr.textContent?.trim()),
      );
      assert.deepEqual(gapRows, ["1051073"]);
      assert.equal(await page.textContent("#missing-detail"), "in 1 range");
      assert.equal(await page.locator("#servers tbody tr").count(), 2);
      const store = await page.$$eval(
        "#stores tbody td",
        (tds) => tds.map((td) => td.textContent),
      );
      assert.deepEqual(store.slice(0, 2), ["sqlite", "up"]);

      // The rate tile is the count over the window the data covers.
      // Read in one go: the tile may redraw between separate reads.
      const rate = await page.$eval("#rate", (el) => ({
        text: el.textContent,
        blocks: Number(el.getAttribute("data-blocks")),
        seconds: Number(el.getAttribute("data-seconds")),
      }));
      assert.equal(rate.blocks, stored.length);
      assert.ok(
        rate.seconds >= 58 && rate.seconds < 90,
        `window ${rate.seconds} s`,
      );
      // Shown to one decimal: equal to the count over the window at that
      // precision (0.05 plus float slack for the rounding of the display).
      const perMinute = rate.blocks / rate.seconds * 60;
      assert.ok(
        Math.abs(Number(rate.text) - perMinute) <= 0.0501,
        `${rate.text} shown for ${rate.blocks} blocks in ${rate.seconds} s`,
      );

      await page.evaluate(() => {
        (globalThis as unknown as { marker: number }).marker = 42;
      });
      await screenshot(page, "dashboard-1280x800.png", false);
      // A replay of the withheld blocks through a real server closes the gap.
      for (const block of [105, 106, 107]) {
        await sendRaw(
          server.port,
          encodeNetstring((await makeDocument(block)).payload),
        );
      }
      await page.waitForSelector('#missing[data-missing="0"]', {
        timeout: 15_000,
      });
      assert.equal(
        await page.textContent("#gaps tbody tr td"),
        "No gaps: every block is stored",
      );
      await waitFor(
        async () => await page.locator("#servers tbody tr").count() === 3,
        { what: "the replaying server's row" },
      );
      assert.equal(
        await page.evaluate(() =>
          (globalThis as unknown as { marker: number }).marker
        ),
        42,
        "no full reload",
      );
      assert.deepEqual(problems, []);

      // A phone: nothing wider than the screen.
      const phone = await browser.newPage({
        viewport: { width: 390, height: 844 },
        deviceScaleFactor: 2,
        isMobile: true,
      });
      const phoneProblems = watchProblems(phone);
      await phone.goto(`${stats.url}dashboard`);
      await phone.waitForSelector('#missing[data-missing="0"]');
      const width = await phone.$eval("html", (el) => el.scrollWidth);
      assert.ok(width <= 390, `page is ${width} px wide on a 390 px screen`);
      await screenshot(phone, "dashboard-phone.png");
      assert.deepEqual(phoneProblems, []);
    } finally {
      await browser?.close();
      await stats.child.stop("SIGTERM");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
