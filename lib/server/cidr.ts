/**
 * IP networks in CIDR notation (`10.0.0.0/8`, `fd00::/8`) and an allow-list
 * of them, for the server's `--allow-from`.
 *
 * @module
 */

/** A string that is not an IP address or CIDR network. */
export class CidrError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "CidrError";
  }
}

/** One network: address family, its address as a number, prefix length. */
export interface Cidr {
  /** IPv4 or IPv6. */
  family: 4 | 6;
  /** The network address with host bits cleared. */
  network: bigint;
  /** Leading bits that must match. */
  prefix: number;
}

const V4_PART = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const V6_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseV4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => V4_PART.test(p))) {
    return undefined;
  }
  return parts.reduce((n, p) => (n << 8n) | BigInt(p), 0n);
}

function parseV6(text: string): bigint | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string, last: boolean): bigint[] | undefined => {
    if (half === "") return [];
    const out: bigint[] = [];
    const parts = half.split(":");
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (last && i === parts.length - 1 && part.includes(".")) {
        // An embedded IPv4 tail, as in ::ffff:192.0.2.1.
        const v4 = parseV4(part);
        if (v4 === undefined) return undefined;
        out.push(v4 >> 16n, v4 & 0xffffn);
      } else if (V6_GROUP.test(part)) {
        out.push(BigInt(`0x${part}`));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1], true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array(missing).fill(0n), ...tail];
  return all.reduce((n, g) => (n << 16n) | g, 0n);
}

/**
 * Parses an IP address (IPv4, or IPv6 with an optional `%zone`) into its
 * family and value; IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, as
 * dual-stack listeners report IPv4 peers) become the IPv4 address.
 * Returns `undefined` for anything else.
 */
export function parseIp(
  text: string,
): { family: 4 | 6; value: bigint } | undefined {
  const v4 = parseV4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseV6(text.replace(/%[^%]+$/, ""));
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === 0xffffn) return { family: 4, value: v6 & 0xffffffffn };
  return { family: 6, value: v6 };
}

/**
 * Parses `address/prefix`, or a bare address (a single host). Host bits set
 * in the address are ignored, as routers do.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCidr } from "./cidr.ts";
 * assert.deepEqual(parseCidr("10.1.2.3/8"), { family: 4, network: 167772160n, prefix: 8 });
 * ```
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(address.trim());
  // A mapped address written as IPv6 keeps its IPv6 prefix length.
  const family = ip && address.includes(":") && ip.family === 4
    ? 6
    : ip?.family;
  if (ip === undefined || family === undefined) {
    throw new CidrError(`${JSON.stringify(text)} is not an IP address or CIDR`);
  }
  const bits = family === 4 ? 32 : 128;
  const rawPrefix = slash < 0 ? String(bits) : text.slice(slash + 1).trim();
  const prefix = /^\d{1,3}$/.test(rawPrefix) ? Number(rawPrefix) : NaN;
  if (!(prefix >= 0 && prefix <= bits)) {
    throw new CidrError(
      `${JSON.stringify(text)} has a prefix length outside 0-${bits}`,
    );
  }
  if (family === 6 && ip.family === 4) {
    // ::ffff:a.b.c.d/N with N >= 96 is the IPv4 network a.b.c.d/(N-96).
    if (prefix < 96) {
      throw new CidrError(
        `${
          JSON.stringify(text)
        }: an IPv4-mapped network needs a prefix of 96 or more`,
      );
    }
    return toCidr(4, ip.value, prefix - 96);
  }
  return toCidr(family, ip.value, prefix);
}

/** The IPv4-mapped range, ::ffff:0:0/96. */
const MAPPED = 0xffffn << 32n;

function toCidr(family: 4 | 6, value: bigint, prefix: number): Cidr {
  const bits = family === 4 ? 32 : 128;
  const hostBits = BigInt(bits - prefix);
  return { family, network: (value >> hostBits) << hostBits, prefix };
}

/** Whether `ip` (a parsed address) lies in `cidr`. */
export function cidrContains(
  cidr: Cidr,
  ip: { family: 4 | 6; value: bigint },
): boolean {
  // An IPv4 peer is also ::ffff:a.b.c.d, which an IPv6 network may hold.
  if (cidr.family === 6 && ip.family === 4) {
    ip = { family: 6, value: MAPPED | ip.value };
  }
  if (cidr.family !== ip.family) return false;
  const hostBits = BigInt((cidr.family === 4 ? 32 : 128) - cidr.prefix);
  return (ip.value >> hostBits) << hostBits === cidr.network;
}

/**
 * A list of networks peers may connect from. An empty list allows everyone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AllowList } from "./cidr.ts";
 * const list = AllowList.parse(["127.0.0.0/8", "::1"]);
 * assert.equal(list.allows("127.0.0.2"), true);
 * assert.equal(list.allows("::ffff:127.0.0.1"), true);
 * assert.equal(list.allows("192.0.2.1"), false);
 * ```
 */
export class AllowList {
  /** The networks, as given. */
  readonly networks: readonly Cidr[];

  /** Builds a list from parsed networks. */
  constructor(networks: readonly Cidr[]) {
    this.networks = networks;
  }

  /** Parses each entry with {@linkcode parseCidr}; throws a CidrError. */
  static parse(entries: readonly string[]): AllowList {
    return new AllowList(entries.map(parseCidr));
  }

  /** Whether a peer at `address` may connect; unparsable addresses may not. */
  allows(address: string): boolean {
    if (this.networks.length === 0) return true;
    const ip = parseIp(address);
    return ip !== undefined && this.networks.some((n) => cidrContains(n, ip));
  }
}
