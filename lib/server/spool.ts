/**
 * The server's durable spool: every accepted document is appended to a
 * segment file on local disk and synced (one `fdatasync` per group of
 * documents, not per document) before it is acknowledged; each store then
 * writes from it at its own pace and its position is kept in a small file,
 * so a restart replays, in order, what some store does not hold yet.
 *
 * The record format is in `spool_record.ts`, the stores' positions in
 * `spool_positions.ts`.
 *
 * @module
 */
import type { ReceivedDocument } from "../store/mod.ts";
import { abortableSleep, writeAll } from "../shared/mod.ts";
import {
  decodeSegment,
  RecordBuffer,
  SEGMENT_SUFFIX,
  segmentName,
} from "./spool_record.ts";
import { readPositions, writePositions } from "./spool_positions.ts";
import { SegmentSpace } from "./spool_space.ts";

/** Bytes a spool segment grows to before the next one is started. */
export const DEFAULT_SEGMENT_BYTES = 4 * 1024 * 1024;

/** Options for {@linkcode Spool.open}. */
export interface SpoolOptions {
  /** Store names: each has its own position in the spool. */
  stores: readonly string[];
  /** Bytes of segments kept at most before {@linkcode Spool.full}. */
  maxBytes: number;
  /**
   * A segment is closed and a new one started past this size, in bytes.
   *
   * @default {DEFAULT_SEGMENT_BYTES}
   */
  segmentBytes?: number;
  /**
   * Skip `fdatasync` (tests only, or a spool on a RAM disk).
   *
   * @default {false}
   */
  noSync?: boolean;
}

/** What {@linkcode Spool.open} found on disk. */
export interface SpoolReplay {
  /** Per store, the documents it does not hold yet, oldest first. */
  pending: Record<string, SpooledDocument[]>;
  /** Records cut off at a torn or corrupt tail, across segments. */
  tornRecords: number;
}

/** A document with its place in the spool. */
export interface SpooledDocument {
  /** Sequence number: records are numbered from 1 across segments. */
  seq: number;
  /** The document. */
  doc: ReceivedDocument;
}

/** A spool file could not be read or written. */
export class SpoolError extends Error {
  /** Builds the error; `cause` is the file system error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SpoolError";
  }
}

interface Segment {
  first: number;
  /** Sequence number after the last record in it. */
  end: number;
  bytes: number;
  path: string;
}

/**
 * An append-only, checksummed, group-committed log of documents with one
 * read position per store.
 *
 * @example
 * ```ts
 * import { Spool } from "./spool.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const { spool } = await Spool.open(dir, { stores: ["sqlite"], maxBytes: 1 << 20 });
 * const doc = { payload: "<p>1</p>", hash: "ab", block: 1n, ip: "127.0.0.1",
 *   port: 1, receivedAt: 0, server: "s" };
 * const seq = spool.append(doc);
 * await spool.synced(seq);
 * await spool.close();
 * const again = await Spool.open(dir, { stores: ["sqlite"], maxBytes: 1 << 20 });
 * assert.deepEqual(again.replay.pending.sqlite.map((r) => r.doc.payload), ["<p>1</p>"]);
 * await again.spool.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class Spool {
  readonly #dir: string;
  readonly #o: Required<SpoolOptions>;
  readonly #segments: Segment[];
  #file: Deno.FsFile | undefined;
  #next: number;
  // Appends go to #pending while #spare's records are being written.
  #pending = new RecordBuffer();
  #spare = new RecordBuffer();
  #durable: number;
  // One promise per group, not per document: the group being written
  // (records up to #writingLast) and the next one.
  #writing: PromiseWithResolvers<void> | undefined;
  #writingLast = 0;
  #nextGroup: PromiseWithResolvers<void> | undefined;
  #flushing: Promise<void> | undefined;
  #failure: Error | undefined;
  readonly #positions: Map<string, number>;
  #positionWrite: Promise<void> | undefined;
  #positionDirty = false;
  #room: PromiseWithResolvers<void> | undefined;
  #closed = false;
  // The next segment's space, made ready once a segment is half full.
  readonly #space: SegmentSpace;

  private constructor(
    dir: string,
    options: Required<SpoolOptions>,
    segments: Segment[],
    next: number,
    positions: Map<string, number>,
  ) {
    this.#dir = dir;
    this.#o = options;
    this.#segments = segments;
    this.#next = next;
    this.#durable = next - 1;
    this.#positions = positions;
    this.#space = new SegmentSpace(dir, options.segmentBytes);
  }

  /**
   * Opens (creating) the spool in `dir`, reads what it holds and returns the
   * documents each store still needs, oldest first. A torn last record is
   * cut off (the file is truncated to its last whole record), as is the
   * unused space of a segment that was made ready ahead.
   */
  static async open(
    dir: string,
    options: SpoolOptions,
  ): Promise<{ spool: Spool; replay: SpoolReplay }> {
    const o: Required<SpoolOptions> = {
      segmentBytes: DEFAULT_SEGMENT_BYTES,
      noSync: false,
      ...options,
    };
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (error) {
      throw new SpoolError(
        `Cannot create spool directory ${dir}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    // Space left by a crash may be part-written: it is made again.
    await SegmentSpace.clear(dir);
    const found = await readSegments(dir);
    const { segments, records } = found;
    const oldest = segments[0]?.first;
    const { positions, next } = await readPositions(
      dir,
      o.stores,
      oldest,
      found.next,
    );
    const pending: Record<string, SpooledDocument[]> = {};
    for (const store of o.stores) {
      const from = positions.get(store)!;
      pending[store] = records.filter((r) => r.seq >= from);
    }
    const spool = new Spool(dir, o, segments, next, positions);
    await spool.#collect();
    return { spool, replay: { pending, tornRecords: found.tornRecords } };
  }

  /** Sequence number the next appended document gets. */
  get nextSeq(): number {
    return this.#next;
  }

  /** Bytes held in segments (synced or not). */
  get bytes(): number {
    return this.#segments.reduce((n, s) => n + s.bytes, 0) +
      this.#pending.length;
  }

  /** Documents some store does not hold yet. */
  get held(): number {
    return this.#next - this.#minPosition();
  }

  /** True while the spool holds `maxBytes` or more: stop taking documents. */
  get full(): boolean {
    return this.bytes >= this.#o.maxBytes;
  }

  /** The last write error, while writing fails (e.g. disk full). */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Resolves once the spool is below `maxBytes`; undefined when it is. */
  room(): Promise<void> | undefined {
    if (!this.full) return undefined;
    this.#room ??= Promise.withResolvers();
    return this.#room.promise;
  }

  /**
   * Appends a document (written and synced with the next group) and returns
   * its sequence number for {@linkcode Spool.synced}.
   */
  append(doc: ReceivedDocument): number {
    if (this.#closed) throw new SpoolError("The spool is closed");
    this.#pending.append(doc);
    const seq = this.#next++;
    this.#flushing ??= this.#flush();
    return seq;
  }

  /**
   * Resolves once the document `seq` is on disk (synced), or undefined when
   * it already is. Rejects while the spool cannot be written; the document
   * is kept in memory and retried with the next group.
   */
  synced(seq: number): Promise<void> | undefined {
    if (seq <= this.#durable) return undefined;
    // Documents of one group share one promise (a group is synced whole).
    if (seq <= this.#writingLast) return (this.#writing ??= group()).promise;
    return (this.#nextGroup ??= group()).promise;
  }

  /**
   * Records that `store` holds every document before `seq`; segments every
   * store is past are deleted. The position file is rewritten (without a
   * sync: after a power loss a store may be sent documents again, which
   * stores take idempotently).
   */
  advance(store: string, seq: number): void {
    const was = this.#positions.get(store);
    if (was === undefined || seq <= was) return;
    this.#positions.set(store, seq);
    this.#positionDirty = true;
    this.#positionWrite ??= this.#writePositions();
  }

  /** Where `store` is: the first document it does not hold. */
  position(store: string): number {
    return this.#positions.get(store) ?? this.#next;
  }

  /** Writes what is pending, persists positions and closes the file. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#flushing || this.#positionWrite) {
      await this.#flushing?.catch(() => {});
      await this.#positionWrite;
    }
    this.#file?.close();
    this.#file = undefined;
    await this.#space.discard();
    this.#room?.resolve();
  }

  async #flush(): Promise<void> {
    // Let the rest of the current burst of appends (the other frames of
    // this read, reads completed in the same turn) join this group. Not a
    // timer: `setTimeout(0)` waits 1-4 ms, which every acknowledgement
    // would pay. Under load groups form anyway: whatever arrives while a
    // group is being synced is the next group.
    await Promise.resolve();
    while (this.#pending.count > 0) {
      const records = this.#pending;
      const bytes = records.length;
      this.#pending = this.#spare;
      this.#spare = records;
      const last = this.#next - 1;
      const first = last - records.count + 1;
      this.#writing = this.#nextGroup;
      this.#nextGroup = undefined;
      this.#writingLast = last;
      let segment: Segment | undefined;
      try {
        const file = await this.#segmentFor(first);
        segment = this.#segments.at(-1)!;
        await writeAll(file, records.view());
        if (!this.#o.noSync) await file.syncData();
      } catch (error) {
        // Kept in order, the failed group first.
        const newer = this.#pending;
        records.appendAll(newer);
        newer.clear();
        this.#pending = records;
        this.#spare = newer;
        this.#failure = error as Error;
        const failure = new SpoolError(
          `Cannot write spool ${this.#dir}: ${(error as Error).message}`,
          { cause: error },
        );
        // The file may hold part of the group: cut it back, and start a
        // fresh segment (replay lets a later segment win over a torn one).
        const current = this.#segments.at(-1);
        if (current) {
          await Deno.truncate(current.path, current.bytes).catch(() => {});
        }
        this.#file?.close();
        this.#file = undefined;
        // Every waiter is told (the documents are kept and retried, but
        // must not be acknowledged yet).
        this.#rejectGroups(failure);
        await abortableSleep(200);
        if (this.#closed) break;
        continue;
      }
      this.#failure = undefined;
      records.clear();
      segment!.end = last + 1;
      segment!.bytes += bytes;
      this.#durable = last;
      // A trickle never fills half a segment, so it never writes zeros; a
      // busy spool writes at most twice its records' bytes. Without syncs
      // the space would gain nothing.
      if (
        segment!.bytes >= this.#o.segmentBytes / 2 && !this.#o.noSync &&
        !this.#closed
      ) this.#space.make();
      this.#writing?.resolve();
      this.#writing = undefined;
    }
    this.#flushing = undefined;
  }

  #rejectGroups(failure: Error) {
    this.#writing?.reject(failure);
    this.#nextGroup?.reject(failure);
    this.#writing = this.#nextGroup = undefined;
    this.#writingLast = this.#durable;
  }

  async #segmentFor(first: number): Promise<Deno.FsFile> {
    const current = this.#segments.at(-1);
    if (
      this.#file && current && current.bytes < this.#o.segmentBytes
    ) {
      return this.#file;
    }
    this.#file?.close();
    this.#file = undefined;
    const path = `${this.#dir}/${segmentName(first)}`;
    // A segment left by a failed write at this number holds nothing durable:
    // the space made ready replaces it, or it is emptied.
    let file: Deno.FsFile;
    if (await this.#space.take(path)) {
      file = await Deno.open(path, { write: true });
    } else {
      file = await Deno.open(path, {
        create: true,
        write: true,
        truncate: true,
      });
    }
    if (current && current.first === first) this.#segments.pop();
    this.#segments.push({ first, end: first, bytes: 0, path });
    this.#file = file;
    if (!this.#o.noSync) await syncDir(this.#dir);
    return file;
  }

  async #writePositions(): Promise<void> {
    while (this.#positionDirty) {
      this.#positionDirty = false;
      // Retried until written; at worst documents are replayed.
      if (!await writePositions(this.#dir, this.#positions)) {
        this.#positionDirty = true;
      }
      await this.#collect();
      if (this.#positionDirty) await abortableSleep(100);
      if (this.#closed && this.#positionDirty) break;
    }
    this.#positionWrite = undefined;
  }

  #minPosition(): number {
    let min = this.#next;
    for (const seq of this.#positions.values()) min = Math.min(min, seq);
    return min;
  }

  /** Deletes segments every store is past (the one being written stays). */
  async #collect(): Promise<void> {
    const min = this.#minPosition();
    while (this.#segments.length > 0) {
      const oldest = this.#segments[0];
      const writing = oldest === this.#segments.at(-1) &&
        (!this.#closed || this.#flushing !== undefined);
      if (oldest.end > min || writing) break;
      if (oldest === this.#segments.at(-1)) {
        this.#file?.close();
        this.#file = undefined;
      }
      this.#segments.shift();
      await Deno.remove(oldest.path).catch(() => {});
    }
    const current = this.#segments.at(-1);
    // Everything is stored: start the next group in a fresh segment so the
    // current one can go.
    if (
      current && current.end <= min && this.#pending.count === 0 &&
      this.#file && current.bytes > 0 && !this.#flushing
    ) {
      this.#file.close();
      this.#file = undefined;
      if (this.#segments.at(-1) === current) {
        this.#segments.pop();
        await Deno.remove(current.path).catch(() => {});
      }
    }
    if (!this.full) {
      this.#room?.resolve();
      this.#room = undefined;
    }
  }
}

/** A group's promise; a rejection nobody awaits is not an error. */
function group(): PromiseWithResolvers<void> {
  const g = Promise.withResolvers<void>();
  g.promise.catch(() => {});
  return g;
}

/** What the segments in `dir` hold, oldest first; torn tails cut off. */
async function readSegments(dir: string): Promise<{
  segments: Segment[];
  records: SpooledDocument[];
  tornRecords: number;
  next: number;
}> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(SEGMENT_SUFFIX)) {
      names.push(entry.name);
    }
  }
  names.sort();
  const segments: Segment[] = [];
  const records: SpooledDocument[] = [];
  let tornRecords = 0;
  let next = 1;
  for (const name of names) {
    const first = Number(name.slice(0, -SEGMENT_SUFFIX.length));
    if (!Number.isSafeInteger(first) || first < 1) continue;
    const path = `${dir}/${name}`;
    const bytes = await Deno.readFile(path);
    const { docs, validBytes, torn } = decodeSegment(bytes);
    if (torn) tornRecords++;
    // A torn record goes, and so does a preallocated segment's unused space.
    if (validBytes < bytes.length) await Deno.truncate(path, validBytes);
    // A group that failed part-way was written again in a new segment:
    // the new one wins.
    while (records.length > 0 && records.at(-1)!.seq >= first) records.pop();
    docs.forEach((doc, i) => records.push({ seq: first + i, doc }));
    next = first + docs.length;
    segments.push({ first, end: next, bytes: validBytes, path });
  }
  return { segments, records, tornRecords, next };
}

async function syncDir(dir: string): Promise<void> {
  // A new file's directory entry must be durable too; not every platform
  // lets a directory be opened for syncing.
  try {
    using d = await Deno.open(dir, { read: true });
    await d.syncData();
  } catch {
    // Best effort.
  }
}
