import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  BlockTemplate,
  DEFAULT_TEMPLATE_PATH,
  MAX_BLOCK,
  TemplateError,
} from "../../lib/shared/template.ts";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const bytes = (s: string) => new TextEncoder().encode(s).length;

// SPEC 1.1: the exact document of the originals.
const SPEC_DOCUMENT = `<!doctype html>
<html class="no-js" lang="">
    <head>
        <meta charset="utf-8">
        <meta http-equiv="x-ua-compatible" content="ie=edge">
        <title>Ethereum Current Block Number</title>
        <meta name="description" content="eth current block">
        <meta name="viewport" content="width=device-width, initial-scale=1">
    </head>
    <body>
        <h2>Current Ethereum Block Number</h2>
        <p>{N}</p>
    </body>
</html>`;

Deno.test("default template renders the SPEC test vectors byte for byte", async () => {
  const t = await BlockTemplate.load();
  const vectors: [bigint, number, string][] = [
    [
      5000000n,
      453,
      "c222d52b79c72f5835d87cc2fe9f5f1a3ee995bea890bd22eb439b646bed4a68",
    ],
    [
      21000000n,
      454,
      "be7cbed5bab6fc9c253937977f34aa3c9cf5fc3d8985d9cec7edc353994ca633",
    ],
  ];
  for (const [block, length, hash] of vectors) {
    const doc = t.render(block);
    assert.equal(doc, SPEC_DOCUMENT.replace("{N}", String(block)));
    assert.equal(bytes(doc), length);
    assert.equal(sha256(doc), hash);
    assert.ok(!doc.endsWith("\n"), "no trailing newline");
  }
});

Deno.test("default template file lives in templates/", () => {
  assert.match(DEFAULT_TEMPLATE_PATH, /templates[\\/]block\.eta$/);
});

Deno.test("parse inverts render and rejects everything else", async () => {
  const t = await BlockTemplate.load();
  for (const n of [0n, 1n, 5000000n, 21000000n, MAX_BLOCK]) {
    assert.equal(t.parse(t.render(n)), n);
  }
  const doc = t.render(21000000n);
  const rejected = [
    "",
    "<p>21000000</p>",
    doc + "\n",
    doc.replace("21000000", "021000000"),
    doc.replace("21000000", "-21000000"),
    doc.replace("21000000", "21,000,000"),
    doc.replace("21000000", "2100000a"),
    doc.replace("21000000", "0x1406f40"),
    doc.replace("21000000", (MAX_BLOCK + 1n).toString()),
    doc.replace("21000000", "9".repeat(400)),
    doc.replace("Current Ethereum", "Current Bitcoin"),
    doc.replace("21000000</p>", "21000000</p><script>alert(1)</script>"),
    doc.replaceAll("\n", "\r\n"),
  ];
  for (const payload of rejected) {
    assert.equal(
      t.parse(payload),
      undefined,
      JSON.stringify(payload.slice(-60)),
    );
  }
});

Deno.test("a custom template renders and parses, keeping whitespace", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/custom.eta`;
    await Deno.writeTextFile(path, "<b>\n  <%= it.block %>\n</b>\n");
    const t = await BlockTemplate.load(path);
    assert.equal(t.render(7n), "<b>\n  7\n</b>\n");
    assert.equal(t.parse("<b>\n  7\n</b>\n"), 7n);
    assert.equal(t.parse("<b>\n  7\n</b>"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("templates that cannot work are clear errors", async () => {
  await assert.rejects(
    BlockTemplate.load("/nonexistent/block.eta"),
    (e: unknown) =>
      e instanceof TemplateError && /Cannot read template/.test(e.message),
  );
  assert.throws(
    () => BlockTemplate.fromString("<p>static</p>"),
    (e: unknown) =>
      e instanceof TemplateError && /never prints it\.block/.test(e.message),
  );
  assert.throws(
    () => BlockTemplate.fromString("<p><%= it.block </p>"),
    TemplateError,
  );
});
