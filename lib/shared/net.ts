/**
 * Host and port: one way to write them (IPv6 in brackets) and one way to
 * read them back.
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
import { ConfigError } from "./options.ts";

/** A host (name or address, IPv6 without brackets) and a TCP port. */
export interface HostPort {
  host: string;
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
