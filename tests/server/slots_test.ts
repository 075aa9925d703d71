/**
 * The open-connection collection behind `--max-connections`: whatever the
 * order of adds and removes, it holds exactly what a `Set` would, its size
 * agrees, and iterating it while connections close sees a snapshot.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { OpenConnections } from "../../lib/server/slots.ts";

interface Item {
  id: number;
  slot: number;
}

Deno.test("open connections: any sequence of adds and removes holds what a Set holds", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.nat(40)), { maxLength: 300 }),
      (ops) => {
        const items: Item[] = Array.from({ length: 41 }, (_, id) => ({
          id,
          slot: -1,
        }));
        const open = new OpenConnections<Item>();
        const reference = new Set<Item>();
        for (const [add, n] of ops) {
          const item = items[n];
          // As Slots uses it: an item is added only while it is out.
          if (add && !reference.has(item)) {
            open.add(item);
            reference.add(item);
          } else if (!add) {
            open.delete(item);
            reference.delete(item);
          }
          assert.equal(open.size, reference.size);
        }
        const ids = (xs: Iterable<Item>) => [...xs].map((x) => x.id).sort();
        assert.deepEqual(ids(open), ids(reference));
        for (const item of items) {
          assert.equal(item.slot >= 0, reference.has(item), `item ${item.id}`);
        }
      },
    ),
  );
});

Deno.test("open connections: iterating while removing sees every connection open when it began", () => {
  const open = new OpenConnections<Item>();
  const items = Array.from({ length: 5 }, (_, id) => ({ id, slot: -1 }));
  for (const item of items) open.add(item);
  const seen: number[] = [];
  for (const item of open) {
    seen.push(item.id);
    open.delete(item);
    open.delete(items[4]);
  }
  assert.deepEqual(seen.sort(), [0, 1, 2, 3, 4]);
  assert.equal(open.size, 0);
  // Removing what is not in changes nothing.
  open.delete(items[0]);
  assert.equal(open.size, 0);
});
