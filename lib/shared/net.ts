/**
 * Sockets and addresses: one way to write a host and port (IPv6 in
 * brackets), one way to read them back, and one way to write a whole buffer
 * to a writer that may take it in parts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatHostPort, parseHostPort } from "./net.ts";
 *
 * assert.equal(formatHostPort({ host: "::1", port: 9999 }), "[::1]:9999");
 * assert.deepEqual(parseHostPort("[::1]:8888", 9999), { host: "::1", port: 8888 });
 * assert.deepEqual(parseHostPort("srv", 9999), { host: "srv", port: 9999 });
 * ```
 *
 * @module
 */
import { ConfigError } from "./option_kinds.ts";

/** A host (name or address, IPv6 without brackets) and a TCP port. */
export interface HostPort {
  /** A host name or address; an IPv6 address without brackets. */
  host: string;
  /** A TCP port. */
  port: number;
}

/** Formats an address as `host:port`, bracketing IPv6 hosts. */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Splits `host[:port]` or `[v6]:port`; the port falls back to `port`. */
export function parseHostPort(
  value: string,
  port: number | undefined,
): HostPort {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(value) ??
    /^([^:]+)(?::(\d+))?$/.exec(value);
  // A bare IPv6 address has several colons and no brackets.
  const [host, p] = m ? [m[1], m[2]] : [value, undefined];
  const resolved = p !== undefined ? Number(p) : port;
  if (resolved === undefined) {
    throw new ConfigError(`--port is required (or give --host ${host}:PORT)`);
  }
  if (!Number.isInteger(resolved) || resolved < 1 || resolved > 65535) {
    throw new ConfigError(`Port of ${JSON.stringify(value)} is not 1-65535`);
  }
  return { host, port: resolved };
}

/** Something bytes can be written to in parts, like a `Deno.Conn` or `Deno.FsFile`. */
export interface Writer {
  /** Writes some of `p`; resolves with how many bytes were written. */
  write(p: Uint8Array): Promise<number>;
}

/**
 * Writes all of `bytes` to `writer`, calling `write` until every byte is
 * taken (a socket or pipe may take fewer than offered).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeAll } from "./net.ts";
 *
 * const parts: number[] = [];
 * const slow = {
 *   write: (p: Uint8Array) => {
 *     parts.push(Math.min(2, p.length));
 *     return Promise.resolve(Math.min(2, p.length));
 *   },
 * };
 * await writeAll(slow, new Uint8Array(5));
 * assert.deepEqual(parts, [2, 2, 1]);
 * ```
 */
export async function writeAll(
  writer: Writer,
  bytes: Uint8Array,
): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await writer.write(bytes.subarray(at));
}
