/** Test helpers that read block numbers back from a server's DATA lines. */
import assert from "node:assert/strict";
import { BlockTemplate } from "../../lib/shared/template.ts";

const template = await BlockTemplate.load();
const DATA = /^DATA - 127\.0\.0\.1:(\d+) - (.*)$/;

/**
 * The block numbers of a server's DATA lines (SPEC 1.3), in print order;
 * every line must be exactly the rendering of its block.
 */
export function blocksPrinted(stdout: readonly string[]): bigint[] {
  return stdout.filter((l) => l.startsWith("DATA")).map((line) => {
    const m = DATA.exec(line);
    assert.ok(m, `malformed line: ${line.slice(0, 80)}`);
    const block = template.parse(m[2].replaceAll("\\n", "\n"));
    assert.ok(
      block !== undefined,
      `not a block document: ${line.slice(0, 80)}`,
    );
    assert.equal(
      line,
      `DATA - 127.0.0.1:${m[1]} - ${
        template.render(block).replaceAll("\n", "\\n")
      }`,
    );
    return block;
  });
}

/** `from`, `from + 1`, ... `to`. */
export function range(from: bigint, to: bigint): bigint[] {
  const out: bigint[] = [];
  for (let b = from; b <= to; b++) out.push(b);
  return out;
}

/** Asserts `blocks` is a run of consecutive numbers: no gap, no repeat. */
export function assertConsecutive(blocks: readonly bigint[], what = "blocks") {
  assert.ok(blocks.length > 0, `no ${what}`);
  assert.deepEqual(
    blocks,
    range(blocks[0], blocks[0] + BigInt(blocks.length) - 1n),
    `${what} must be consecutive, each once: ${blocks.join(",")}`,
  );
}
