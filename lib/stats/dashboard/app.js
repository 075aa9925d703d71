// The dashboard's script: polls the JSON API and redraws in place. Served
// as a file of its own so the page's Content-Security-Policy can forbid
// inline script. Every value from the API is set as text, never as markup.

const REFRESH_MS = 2000;
const SERIES_MINUTES = 30;
const GAPS_LISTED = 20;
const SVG = "http://www.w3.org/2000/svg";
const CHART = {
  width: 760,
  height: 220,
  left: 36,
  right: 8,
  top: 10,
  bottom: 24,
};

const $ = (id) => document.getElementById(id);
const numberFormat = new Intl.NumberFormat("en-US");
const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

/** Fetches one JSON route; rejects with the status on anything but 200. */
async function getJson(path) {
  const response = await fetch(path, {
    cache: "no-store",
    signal: AbortSignal.timeout(5000),
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${path} answered ${response.status}`);
  }
  return response.json();
}

/** "12 s ago", "3 min ago", ... for an ISO time, or "–". */
function ago(iso) {
  if (!iso) return "–";
  const seconds = Math.max(
    0,
    Math.round((Date.now() - Date.parse(iso)) / 1000),
  );
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

/** "45 s", "5 min", "2 h" for a number of seconds. */
function duration(seconds) {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

function shortHash(hash) {
  return `${hash.slice(0, 10)}…${hash.slice(-6)}`;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function timeCell(iso) {
  const td = cell(ago(iso));
  td.dataset.time = iso ?? "";
  if (iso) td.title = new Date(iso).toLocaleString();
  return td;
}

function fillTable(table, rows, columns, empty) {
  const body = table.tBodies[0];
  const trs = rows.map((row) => {
    const tr = document.createElement("tr");
    tr.append(...row);
    return tr;
  });
  if (trs.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(empty, "empty");
    td.colSpan = columns;
    tr.append(td);
    trs.push(tr);
  }
  body.replaceChildren(...trs);
}

function renderSummary(summary) {
  const latest = summary.latest;
  const el = $("latest-block");
  if (latest && latest.block !== null) {
    el.textContent = numberFormat.format(latest.block);
    el.dataset.block = String(latest.block);
  } else {
    el.textContent = latest ? "unknown" : "–";
    el.dataset.block = "";
  }
  const detail = $("latest-detail");
  if (latest) {
    const when = document.createElement("span");
    when.dataset.time = latest.firstSeen ?? "";
    when.textContent = ago(latest.firstSeen);
    detail.replaceChildren(
      "first seen ",
      when,
      latest.server ? ` by ${latest.server}` : "",
    );
  } else {
    detail.textContent = "no document stored yet";
  }
  const rate = summary.rate;
  // From the count and window themselves: rounding perMinute's two decimals
  // again to one could show 16.4 for 17 blocks in 62 s (16.45).
  $("rate").textContent = rate.seconds > 0
    ? (rate.blocks / rate.seconds * 60).toFixed(1)
    : rate.perMinute.toFixed(1);
  $("rate").dataset.blocks = String(rate.blocks);
  $("rate").dataset.seconds = String(rate.seconds);
  $("rate-detail").textContent = rate.seconds > 0
    ? `${numberFormat.format(rate.blocks)} blocks in the last ${
      duration(rate.seconds)
    }`
    : "no blocks yet";
  $("documents").textContent = numberFormat.format(summary.documents);
  $("client-count").textContent = numberFormat.format(summary.clients);
}

function svg(name, attributes, text) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) {
    el.setAttribute(key, String(value));
  }
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A step for the y axis giving at most 4 gridlines: 1, 2, 5, 10, 20, ... */
function niceStep(max) {
  const rough = Math.max(1, max / 4);
  const power = 10 ** Math.floor(Math.log10(rough));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
}

function renderChart(series) {
  const chart = $("chart");
  const buckets = series.buckets;
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const step = niceStep(max);
  const top = Math.ceil(max / step) * step;
  const plotWidth = CHART.width - CHART.left - CHART.right;
  const plotHeight = CHART.height - CHART.top - CHART.bottom;
  const y = (v) => CHART.top + plotHeight - (v / top) * plotHeight;
  const slot = plotWidth / buckets.length;
  const parts = [];
  for (let v = 0; v <= top; v += step) {
    parts.push(svg("line", {
      class: "grid",
      x1: CHART.left,
      x2: CHART.width - CHART.right,
      y1: y(v),
      y2: y(v),
    }));
    parts.push(
      svg(
        "text",
        { x: CHART.left - 6, y: y(v) + 4, "text-anchor": "end" },
        String(v),
      ),
    );
  }
  buckets.forEach((bucket, i) => {
    const x = CHART.left + i * slot;
    const height = (bucket.count / top) * plotHeight;
    const bar = svg("rect", {
      class: i === buckets.length - 1 ? "bar current" : "bar",
      x: x + slot * 0.12,
      y: y(bucket.count),
      width: slot * 0.76,
      height: Math.max(0, height),
      rx: 2,
      "data-count": bucket.count,
      "data-start": bucket.startMs,
    });
    bar.append(
      svg(
        "title",
        {},
        `${
          timeFormat.format(new Date(bucket.startMs))
        }: ${bucket.count} blocks`,
      ),
    );
    parts.push(bar);
    if ((buckets.length - 1 - i) % 5 === 0) {
      // The newest label ends at the plot's edge instead of overflowing it.
      const last = i === buckets.length - 1;
      parts.push(svg("text", {
        x: last ? CHART.width - CHART.right : x + slot / 2,
        y: CHART.height - 6,
        "text-anchor": last ? "end" : "middle",
      }, timeFormat.format(new Date(bucket.startMs))));
    }
  });
  chart.replaceChildren(...parts);
  chart.dataset.total = String(buckets.reduce((sum, b) => sum + b.count, 0));
}

function renderBlocks(page) {
  fillTable(
    $("blocks"),
    page.blocks.map((b) => {
      const link = document.createElement("a");
      link.href = `/_cat/hashes/${b.hash}`;
      link.textContent = shortHash(b.hash);
      link.title = b.hash;
      const hash = cell("", "hash");
      hash.append(link);
      return [
        cell(b.block === null ? "–" : numberFormat.format(b.block), "num"),
        hash,
        timeCell(b.firstSeen),
        cell(b.server ?? "–"),
      ];
    }),
    4,
    "No documents yet",
  );
}

function renderClients(data) {
  fillTable(
    $("clients"),
    data.clients.map((c) => [
      cell(c.ip, "hash"),
      cell(numberFormat.format(c.count), "num"),
      timeCell(c.firstSeen),
      timeCell(c.lastSeen),
    ]),
    4,
    "No clients yet",
  );
}

function renderGaps(gaps) {
  const missing = $("missing");
  missing.textContent = numberFormat.format(gaps.missing);
  missing.dataset.missing = String(gaps.missing);
  missing.classList.toggle("bad", gaps.missing > 0);
  $("missing-detail").textContent = gaps.from === null
    ? "no block stored yet"
    : gaps.count === 0
    ? "none since the first stored block"
    : `in ${numberFormat.format(gaps.count)} range${
      gaps.count === 1 ? "" : "s"
    }`;
  $("gaps-span").textContent = gaps.from === null
    ? ""
    : `blocks ${numberFormat.format(gaps.from)}–${
      numberFormat.format(gaps.to)
    }${gaps.head === null ? "" : " (chain head)"}`;
  fillTable(
    $("gaps"),
    gaps.ranges.map((r) => [
      cell(numberFormat.format(r.from), "num"),
      cell(numberFormat.format(r.to), "num"),
      cell(numberFormat.format(r.blocks), "num"),
    ]),
    3,
    gaps.from === null ? "No blocks yet" : "No gaps: every block is stored",
  );
}

function renderServers(data) {
  fillTable(
    $("servers"),
    data.servers.map((s) => [
      cell(s.server ?? "original servers", "hash"),
      cell(numberFormat.format(s.documents), "num"),
      timeCell(s.lastSeen),
    ]),
    3,
    "No documents yet",
  );
  fillTable(
    $("stores"),
    data.stores.map((s) => {
      const state = cell(
        s.up ? "up" : `down: ${s.error}`,
        s.up ? "up" : "down",
      );
      const ping = cell(s.up ? `${s.latencyMs} ms` : "–", "num");
      const name = cell(s.store);
      name.title = s.describe;
      return [name, state, ping];
    }),
    3,
    "No store",
  );
}

function setStatus(state, text) {
  const status = $("status");
  status.dataset.state = state;
  status.textContent = text;
}

/** Keeps "… ago" texts current between refreshes. */
function tickTimes() {
  for (const el of document.querySelectorAll("[data-time]")) {
    el.textContent = ago(el.dataset.time);
  }
}

let timer;
let running = false;

async function refresh() {
  if (running) return;
  running = true;
  clearTimeout(timer);
  try {
    const [summary, series, blocks, clients, gaps, servers] = await Promise
      .all([
        getJson("/api/summary"),
        getJson(`/api/series?minutes=${SERIES_MINUTES}`),
        getJson("/api/blocks?limit=10"),
        getJson("/api/clients"),
        getJson(`/api/gaps?limit=${GAPS_LISTED}`),
        getJson("/api/servers"),
      ]);
    renderSummary(summary);
    renderChart(series);
    renderBlocks(blocks);
    renderClients(clients);
    renderGaps(gaps);
    renderServers(servers);
    const age = summary.latest?.firstSeen
      ? Date.now() - Date.parse(summary.latest.firstSeen)
      : Infinity;
    if (age > 120_000) setStatus("stale", "live, no new block for 2 min");
    else setStatus("live", `live, updated ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    setStatus(
      "error",
      `cannot reach the stats API (${error.message}); retrying`,
    );
  } finally {
    running = false;
    timer = setTimeout(refresh, REFRESH_MS);
  }
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") refresh();
});
setInterval(tickTimes, 1000);
refresh();
