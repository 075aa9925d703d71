/**
 * The load generator: one process, separate from the server under test, the
 * same for every baseline and scenario. It only targets the loopback
 * interface and stops by itself after `--warmup` + `--duration` seconds.
 *
 * Modes:
 * - `conn`: the originals' pattern. `--concurrency` clients each loop:
 *   connect, write one netstring, half-close, then read the server's answer
 *   (SPEC part 3): a document counts only on `2:ok,`, and the connection is
 *   closed at once, as our client does. `--ack off` waits for the server's
 *   close instead, as the originals' client does. With `--dup K` every
 *   document is sent by K clients at once.
 * - `stream`: `--concurrency` long-lived connections, each writing frames
 *   back to back (`--batch` per write) until the time is up while reading
 *   the pipelined answers; a document counts once its `2:ok,` arrived.
 * - `http`: `--concurrency` keep-alive HTTP/1.1 connections, each sending
 *   `GET --path` and reading the whole answer, in a loop.
 * - `hold`: opens `--connections` connections, touches `--ready-file`,
 *   holds them `--duration` seconds, closes them.
 *
 * Prints one JSON object ({@linkcode LoadResult}) to stdout.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { encodeNetstring } from "../lib/shared/netstring.ts";
import { writeAll } from "../lib/shared/net.ts";
import { abortableSleep } from "../lib/shared/async.ts";
import { BlockTemplate } from "../lib/shared/template.ts";
import { readUsage } from "./_proc.ts";

/** What a run of the load generator reports. */
export interface LoadResult {
  mode: string;
  /** Operations (documents, requests, connections) that succeeded in total. */
  ok: number;
  /** Operations that failed in total. */
  errors: number;
  /** Failures by message, at most 10 kinds. */
  errorKinds: Record<string, number>;
  /** Successes inside the measured window. */
  measuredOk: number;
  /** Length of the measured window, in seconds. */
  seconds: number;
  /** measuredOk / seconds. */
  rate: number;
  /** Median latency of an operation in the window, in ms (null in stream). */
  p50Ms: number | null;
  /** 99th percentile latency, in ms (null in stream). */
  p99Ms: number | null;
  /** Distinct documents acknowledged (conn and stream). */
  delivered: number;
  /** Distinct documents at least one copy of which was attempted. */
  attempted: number;
  /** Block number of the first document (documents are consecutive). */
  firstBlock: number;
  /** Bytes the server answered in total (http). */
  bytesIn: number;
  /** The generator's own peak RSS and CPU time. */
  peakRssBytes: number;
  cpuSeconds: number;
}

/** Refuses any target other than this machine's loopback interface. */
export function assertLoopback(host: string): void {
  if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host)) {
    throw new Error(`Refusing to load ${host}: only loopback is a target`);
  }
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mode: { type: "string", default: "conn" },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    concurrency: { type: "string", default: "32" },
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    dup: { type: "string", default: "1" },
    "first-block": { type: "string", default: "10000000" },
    batch: { type: "string", default: "64" },
    path: { type: "string", default: "/" },
    connections: { type: "string", default: "2000" },
    "ready-file": { type: "string" },
    timeout: { type: "string", default: "5" },
    ack: { type: "string", default: "required" },
  },
});

const host = values.host!;
assertLoopback(host);
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1) throw new Error("--port is required");
const concurrency = Number(values.concurrency);
const durationMs = Number(values.duration) * 1000;
const warmupMs = Number(values.warmup) * 1000;
const dup = Math.max(1, Number(values.dup));
const firstBlock = Number(values["first-block"]);
const timeoutMs = Number(values.timeout) * 1000;
const ack = values.ack !== "off";

const start = performance.now();
const measureFrom = start + warmupMs;
const end = measureFrom + durationMs;

let ok = 0;
let errors = 0;
let measuredOk = 0;
let bytesIn = 0;
const errorKinds: Record<string, number> = {};
const latencies: number[] = [];
const delivered = new Set<number>();
let nextSeq = 0;

function fail(error: unknown) {
  errors++;
  const kind = error instanceof Error
    ? `${error.name}: ${error.message}`.slice(0, 120)
    : String(error);
  if (kind in errorKinds || Object.keys(errorKinds).length < 10) {
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  }
}

function succeed(began: number, now: number) {
  ok++;
  if (began >= measureFrom && now <= end) {
    measuredOk++;
    latencies.push(now - began);
  }
}

/** Renders documents cheaply: the template split around a probe number. */
async function documentMaker(): Promise<(block: number) => Uint8Array> {
  const template = await BlockTemplate.load();
  const probe = 987654321987n;
  const text = template.render(probe);
  const at = text.indexOf(String(probe));
  const head = text.slice(0, at);
  const tail = text.slice(at + String(probe).length);
  return (block) => encodeNetstring(`${head}${block}${tail}`);
}

function closeQuietly(conn: Deno.Conn | undefined) {
  try {
    conn?.close();
  } catch {
    // Already closed.
  }
}

/** Closes connections stuck longer than the timeout, so no run hangs. */
class Watchdog {
  readonly #open = new Map<Deno.Conn, number>();
  readonly #timer = setInterval(() => {
    const limit = performance.now() - timeoutMs;
    for (const [conn, since] of this.#open) {
      if (since < limit) {
        this.#open.delete(conn);
        closeQuietly(conn);
      }
    }
  }, Math.min(1000, timeoutMs));

  watch(conn: Deno.Conn) {
    this.#open.set(conn, performance.now());
  }

  touch(conn: Deno.Conn) {
    if (this.#open.has(conn)) this.#open.set(conn, performance.now());
  }

  release(conn: Deno.Conn) {
    this.#open.delete(conn);
  }

  stop() {
    clearInterval(this.#timer);
  }
}

async function readToEnd(conn: Deno.Conn, buffer: Uint8Array) {
  while ((await conn.read(buffer)) !== null) { /* answers are not read */ }
}

const OK = new TextEncoder().encode("2:ok,");

/** Reads one answer; throws unless it is `2:ok,`. */
async function readOk(conn: Deno.Conn, buffer: Uint8Array) {
  let got = 0;
  while (got < OK.length) {
    const n = await conn.read(buffer.subarray(got));
    if (n === null) throw new Error("closed without an answer");
    got += n;
  }
  for (let i = 0; i < OK.length; i++) {
    if (buffer[i] !== OK[i]) {
      throw new Error(
        `answer ${
          JSON.stringify(new TextDecoder().decode(buffer.subarray(0, got)))
        }`,
      );
    }
  }
}

/**
 * Reads pipelined answers to the end of input, counting `2:ok,`s as they
 * arrive; throws on anything else.
 */
class OkCounter {
  count = 0;
  #phase = 0;

  async run(conn: Deno.Conn): Promise<number> {
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) return performance.now();
      for (let i = 0; i < n; i++) {
        if (buffer[i] !== OK[this.#phase]) {
          throw new Error(`unexpected answer byte ${buffer[i]}`);
        }
        if (++this.#phase === OK.length) {
          this.#phase = 0;
          this.count++;
        }
      }
    }
  }
}

async function connWorker(make: (b: number) => Uint8Array, dog: Watchdog) {
  const buffer = new Uint8Array(256);
  while (performance.now() < end) {
    const seq = nextSeq++;
    const block = firstBlock + Math.floor(seq / dup);
    const frame = make(block);
    const began = performance.now();
    let conn: Deno.Conn | undefined;
    try {
      conn = await Deno.connect({ hostname: host, port });
      dog.watch(conn);
      await writeAll(conn, frame);
      await (conn as Deno.TcpConn).closeWrite();
      if (ack) await readOk(conn, buffer);
      else await readToEnd(conn, buffer);
      succeed(began, performance.now());
      delivered.add(block);
    } catch (error) {
      fail(error);
    } finally {
      if (conn) dog.release(conn);
      closeQuietly(conn);
    }
  }
}

async function streamWorker(make: (b: number) => Uint8Array, dog: Watchdog) {
  const buffer = new Uint8Array(256);
  const frames: Uint8Array[] = [];
  let conn: Deno.Conn | undefined;
  const sent: number[] = [];
  const answers = new OkCounter();
  try {
    conn = await Deno.connect({ hostname: host, port });
    dog.watch(conn);
    const c = conn;
    // Answers are read while frames are written (pipelined).
    const reading = ack
      ? answers.run(c).then((t) => {
        dog.release(c);
        return t;
      })
      : undefined;
    reading?.catch(() => {});
    while (performance.now() < end) {
      frames.length = 0;
      let size = 0;
      for (let i = 0; i < Number(values.batch); i++) {
        const block = firstBlock + nextSeq++;
        sent.push(block);
        const frame = make(block);
        frames.push(frame);
        size += frame.length;
      }
      const chunk = new Uint8Array(size);
      let at = 0;
      for (const f of frames) {
        chunk.set(f, at);
        at += f.length;
      }
      await writeAll(conn, chunk);
      dog.touch(conn);
    }
    await (conn as Deno.TcpConn).closeWrite();
    let now: number;
    let acknowledged = sent.length;
    if (reading) {
      now = await reading;
      acknowledged = answers.count;
      if (acknowledged < sent.length) {
        fail(new Error(`${sent.length - acknowledged} frames without ok`));
      }
    } else {
      await readToEnd(conn, buffer);
      now = performance.now();
    }
    for (const block of sent.slice(0, acknowledged)) delivered.add(block);
    ok += acknowledged;
    measuredOk += acknowledged;
    return now;
  } catch (error) {
    fail(error);
    return performance.now();
  } finally {
    if (conn) dog.release(conn);
    closeQuietly(conn);
  }
}

/** Reads HTTP/1.1 responses (Content-Length or chunked) off one socket. */
class ResponseReader {
  readonly #conn: Deno.Conn;
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async #fill(): Promise<void> {
    if (this.#start > 0 && this.#start === this.#end) {
      this.#start = this.#end = 0;
    }
    if (this.#end === this.#buf.length) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf);
        this.#buf = bigger;
      }
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) throw new Error("connection closed mid-response");
    this.#end += n;
    bytesIn += n;
  }

  /** Index just past the next CRLF, filling as needed. */
  async #line(): Promise<string> {
    while (true) {
      for (let i = this.#start; i + 1 < this.#end; i++) {
        if (this.#buf[i] === 13 && this.#buf[i + 1] === 10) {
          const line = latin1(this.#buf.subarray(this.#start, i));
          this.#start = i + 2;
          return line;
        }
      }
      await this.#fill();
    }
  }

  async #skip(n: number): Promise<void> {
    while (this.#end - this.#start < n) {
      n -= this.#end - this.#start;
      this.#start = this.#end;
      await this.#fill();
    }
    this.#start += n;
  }

  /** Reads one response; returns its status and whether to keep alive. */
  async read(): Promise<{ status: number; keepAlive: boolean }> {
    const statusLine = await this.#line();
    const status = Number(statusLine.split(" ")[1]);
    let length = -1;
    let chunked = false;
    let keepAlive = true;
    while (true) {
      const line = await this.#line();
      if (line === "") break;
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim().toLowerCase();
      if (name === "content-length") length = Number(value);
      else if (name === "transfer-encoding") chunked = value === "chunked";
      else if (name === "connection") keepAlive = value !== "close";
    }
    if (chunked) {
      while (true) {
        const size = parseInt(await this.#line(), 16);
        if (size === 0) {
          while ((await this.#line()) !== "") { /* trailers */ }
          break;
        }
        await this.#skip(size + 2);
      }
    } else if (length >= 0) {
      await this.#skip(length);
    } else {
      throw new Error("response without a length");
    }
    return { status, keepAlive };
  }
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

async function httpWorker(dog: Watchdog) {
  const request = new TextEncoder().encode(
    `GET ${values.path} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`,
  );
  while (performance.now() < end) {
    let conn: Deno.Conn | undefined;
    try {
      conn = await Deno.connect({ hostname: host, port });
      dog.watch(conn);
      const reader = new ResponseReader(conn);
      while (performance.now() < end) {
        const began = performance.now();
        await writeAll(conn, request);
        const { status, keepAlive } = await reader.read();
        dog.touch(conn);
        if (status !== 200) fail(new Error(`HTTP ${status}`));
        else succeed(began, performance.now());
        if (!keepAlive) break;
      }
    } catch (error) {
      fail(error);
    } finally {
      if (conn) dog.release(conn);
      closeQuietly(conn);
    }
  }
}

async function hold() {
  const count = Number(values.connections);
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < count; i += 50) {
      const batch = Array.from(
        { length: Math.min(50, count - i) },
        () => Deno.connect({ hostname: host, port }),
      );
      for (const r of await Promise.allSettled(batch)) {
        if (r.status === "fulfilled") {
          conns.push(r.value);
          ok++;
        } else fail(r.reason);
      }
    }
    // Start a frame on each, as a slow client would, so the server holds
    // parser state and a read buffer for every one.
    const partial = new TextEncoder().encode("453:<!doctype html>");
    for (const conn of conns) await writeAll(conn, partial).catch(fail);
    if (values["ready-file"]) {
      await Deno.writeTextFile(values["ready-file"], String(conns.length));
    }
    await abortableSleep(durationMs);
    measuredOk = conns.length;
  } finally {
    for (const conn of conns) closeQuietly(conn);
  }
}

function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, i)] * 1000) / 1000;
}

const dog = new Watchdog();
let seconds = durationMs / 1000;
try {
  const mode = values.mode;
  if (mode === "conn") {
    const make = await documentMaker();
    await Promise.all(
      Array.from({ length: concurrency }, () => connWorker(make, dog)),
    );
  } else if (mode === "stream") {
    const make = await documentMaker();
    // The warmup is a first, shorter stream whose documents are counted as
    // sent but not as measured.
    if (warmupMs > 0) await streamWarmup(make);
    const began = performance.now();
    const finished = await Promise.all(
      Array.from({ length: concurrency }, () => streamWorker(make, dog)),
    );
    seconds = (Math.max(...finished) - began) / 1000;
  } else if (mode === "http") {
    await Promise.all(
      Array.from({ length: concurrency }, () => httpWorker(dog)),
    );
  } else if (mode === "hold") {
    await hold();
  } else {
    throw new Error(`Unknown --mode ${mode}`);
  }
} finally {
  dog.stop();
}

async function streamWarmup(make: (b: number) => Uint8Array) {
  const conn = await Deno.connect({ hostname: host, port });
  const answers = new OkCounter();
  const reading = ack ? answers.run(conn) : undefined;
  reading?.catch(() => {});
  try {
    const until = performance.now() + warmupMs;
    const blocks: number[] = [];
    while (performance.now() < until) {
      const parts: Uint8Array[] = [];
      for (let i = 0; i < Number(values.batch); i++) {
        const block = firstBlock + nextSeq++;
        blocks.push(block);
        parts.push(make(block));
      }
      const size = parts.reduce((n, p) => n + p.length, 0);
      const chunk = new Uint8Array(size);
      let at = 0;
      for (const p of parts) {
        chunk.set(p, at);
        at += p.length;
      }
      await writeAll(conn, chunk);
    }
    await (conn as Deno.TcpConn).closeWrite();
    let acknowledged = blocks.length;
    if (reading) {
      await reading;
      acknowledged = answers.count;
    } else {
      await readToEnd(conn, new Uint8Array(256));
    }
    for (const block of blocks.slice(0, acknowledged)) delivered.add(block);
    ok += acknowledged;
  } finally {
    closeQuietly(conn);
  }
}

const sorted = Float64Array.from(latencies).sort();
const self = readUsage(Deno.pid);
const result: LoadResult = {
  mode: values.mode!,
  ok,
  errors,
  errorKinds,
  measuredOk,
  seconds,
  rate: seconds > 0 ? measuredOk / seconds : 0,
  p50Ms: percentile(sorted, 0.5),
  p99Ms: percentile(sorted, 0.99),
  delivered: delivered.size,
  attempted: Math.ceil(nextSeq / dup),
  firstBlock,
  bytesIn,
  peakRssBytes: self?.peakRssBytes ?? 0,
  cpuSeconds: self?.cpuSeconds ?? 0,
};
console.log(JSON.stringify(result));
