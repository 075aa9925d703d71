/**
 * A first-in, first-out queue with O(1) push and shift.
 *
 * @module
 */

/**
 * A FIFO with O(1) push and shift: an array with a moving head, compacted
 * once the consumed part is the larger half (so a long-lived queue does not
 * keep every item it ever held).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Deque } from "./deque.ts";
 *
 * const queue = new Deque<number>();
 * queue.push(1);
 * queue.push(2);
 * assert.equal(queue.shift(), 1);
 * queue.unshiftAll([0, 1]);
 * assert.deepEqual(queue.drain(), [0, 1, 2]);
 * assert.equal(queue.size, 0);
 * ```
 */
export class Deque<T> {
  #items: T[] = [];
  #head = 0;

  /** Items held now. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Adds `item` at the back. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** The front item, left in place; `undefined` when empty. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** Removes and returns the front item; `undefined` when empty. */
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined as T;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Puts `items` back at the front, in their order (O(n): for retries). */
  unshiftAll(items: readonly T[]): void {
    this.#items = [...items, ...this.#items.slice(this.#head)];
    this.#head = 0;
  }

  /** Removes and returns every item, front first. */
  drain(): T[] {
    const rest = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return rest;
  }
}
