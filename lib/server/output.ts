/**
 * The server's stdout: one `DATA - ip:port - payload` line per document
 * (SPEC 1.3), written in batches so printing never waits per line.
 *
 * @module
 */
import { formatHostPort, writeAll, type Writer } from "../shared/mod.ts";

/**
 * Turns a socket's remote hostname into the client IP we record: IPv4-mapped
 * IPv6 addresses (`::ffff:1.2.3.4`, seen on dual-stack listeners) become the
 * IPv4 address they carry.
 */
export function normalizeIp(hostname: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostname);
  return m ? m[1] : hostname;
}

/**
 * The line printed for a document, without the final newline: every LF of
 * the payload is written as the two characters `\n`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDataLine } from "./output.ts";
 * assert.equal(formatDataLine("::1", 5, "a\nb"), "DATA - [::1]:5 - a\\nb");
 * ```
 */
export function formatDataLine(
  ip: string,
  port: number,
  payload: string,
): string {
  return dataLineHead(ip, port) + escapeLineBreaks(payload);
}

/**
 * What every {@linkcode formatDataLine} of one peer starts with, so a
 * connection builds it once.
 */
export function dataLineHead(ip: string, port: number): string {
  return `DATA - ${formatHostPort({ host: ip, port })} - `;
}

/** Text as a DATA line prints it: every LF as the two characters `\n`. */
export function escapeLineBreaks(text: string): string {
  return text.replaceAll("\n", "\\n");
}

/**
 * Collects lines and writes them to a sink in one write per turn of the
 * event loop, so a burst of documents costs one syscall, not one each, and
 * callers never await the terminal or pipe.
 */
export class LineWriter {
  readonly #sink: Writer;
  readonly #encoder = new TextEncoder();
  #pending: string[] = [];
  #flushing: Promise<void> | undefined;

  /** Builds a writer over `sink` (default stdout). */
  constructor(sink: Writer = Deno.stdout) {
    this.#sink = sink;
  }

  /** Queues one line; a newline is added. */
  writeLine(line: string): void {
    this.#pending.push(line);
    this.#flushing ??= this.#drain();
  }

  /** Resolves once everything queued so far is written. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  async #drain(): Promise<void> {
    // Let the rest of this turn add its lines to the same write.
    await Promise.resolve();
    try {
      while (this.#pending.length > 0) {
        const text = this.#pending.join("\n") + "\n";
        this.#pending = [];
        await writeAll(this.#sink, this.#encoder.encode(text));
      }
    } catch {
      // A closed stdout (e.g. `| head`) must not stop the server.
      this.#pending = [];
    } finally {
      this.#flushing = undefined;
    }
  }
}
