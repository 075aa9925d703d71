import assert from "node:assert/strict";
import fc from "fast-check";
import {
  AllowList,
  CidrError,
  parseCidr,
  parseIp,
} from "../../lib/server/cidr.ts";

Deno.test("parseIp reads IPv4, IPv6, zones and IPv4-mapped addresses", () => {
  assert.deepEqual(parseIp("127.0.0.1"), { family: 4, value: 0x7f000001n });
  assert.deepEqual(parseIp("0.0.0.0"), { family: 4, value: 0n });
  assert.deepEqual(parseIp("255.255.255.255"), {
    family: 4,
    value: 0xffffffffn,
  });
  assert.deepEqual(parseIp("::1"), { family: 6, value: 1n });
  assert.deepEqual(parseIp("::"), { family: 6, value: 0n });
  assert.deepEqual(parseIp("fe80::1%eth0"), {
    family: 6,
    value: 0xfe80n << 112n | 1n,
  });
  assert.deepEqual(parseIp("2001:db8:0:0:0:0:0:1"), parseIp("2001:db8::1"));
  assert.deepEqual(parseIp("1:2:3:4:5:6:7::"), {
    family: 6,
    value: 0x0001000200030004000500060007_0000n,
  });
  // Dual-stack listeners report IPv4 peers like this.
  assert.deepEqual(parseIp("::ffff:127.0.0.1"), parseIp("127.0.0.1"));
  assert.deepEqual(parseIp("::FFFF:7f00:1"), parseIp("127.0.0.1"));
});

Deno.test("parseIp rejects what is not an address", () => {
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.0.0.1",
      "01.2.3.4",
      "1.2.3.-4",
      " 1.2.3.4",
      "localhost",
      ":::",
      "1::2::3",
      ":1",
      "1:",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7:8::",
      "12345::",
      "g::1",
      "1.2.3.4::",
      "::1.2.3",
    ]
  ) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

Deno.test("parseCidr clears host bits and defaults to a single host", () => {
  assert.deepEqual(parseCidr("10.1.2.3/8"), {
    family: 4,
    network: 0x0a000000n,
    prefix: 8,
  });
  assert.deepEqual(parseCidr("192.0.2.7"), {
    family: 4,
    network: 0xc0000207n,
    prefix: 32,
  });
  assert.deepEqual(parseCidr("0.0.0.0/0"), {
    family: 4,
    network: 0n,
    prefix: 0,
  });
  assert.deepEqual(parseCidr("fd00::1/8"), {
    family: 6,
    network: 0xfdn << 120n,
    prefix: 8,
  });
  assert.deepEqual(parseCidr("::1"), { family: 6, network: 1n, prefix: 128 });
  // An IPv4-mapped network is the IPv4 network it carries.
  assert.deepEqual(parseCidr("::ffff:10.0.0.0/104"), parseCidr("10.0.0.0/8"));
});

Deno.test("parseCidr rejects bad networks with a CidrError", () => {
  for (
    const bad of [
      "",
      "10.0.0.0/33",
      "10.0.0.0/-1",
      "10.0.0.0/",
      "10.0.0.0/8/8",
      "10.0.0.0/x",
      "::/129",
      "::ffff:10.0.0.0/64",
      "example.com/8",
    ]
  ) {
    assert.throws(() => parseCidr(bad), CidrError, bad);
  }
});

Deno.test("AllowList checks IPv4 and IPv6 peers", () => {
  const list = AllowList.parse(["127.0.0.0/8", "10.20.0.0/16", "fd00::/8"]);
  assert.ok(list.allows("127.0.0.1"));
  assert.ok(list.allows("127.255.255.254"));
  assert.ok(list.allows("::ffff:127.0.0.1"));
  assert.ok(list.allows("10.20.255.1"));
  assert.ok(list.allows("fd12:3456::9"));
  assert.ok(!list.allows("10.21.0.1"));
  assert.ok(!list.allows("128.0.0.1"));
  assert.ok(!list.allows("::1"));
  assert.ok(!list.allows("fe80::1"));
  assert.ok(!list.allows("not an ip"));
  // IPv4 networks never match IPv6 peers that merely share the bits.
  assert.ok(!AllowList.parse(["0.0.0.0/0"]).allows("::7f00:1"));
  assert.ok(AllowList.parse(["::/0"]).allows("::1"));
  assert.ok(AllowList.parse([]).allows("192.0.2.1"));
});

Deno.test("fuzz: membership agrees with comparing the leading bits", () => {
  const v4 = fc.tuple(
    fc.nat({ max: 0xffffffff }),
    fc.integer({ min: 0, max: 32 }),
  );
  fc.assert(
    fc.property(v4, fc.nat({ max: 0xffffffff }), ([net, prefix], host) => {
      const text = [24, 16, 8, 0].map((s) => (net >>> s) & 255).join(".");
      const peer = [24, 16, 8, 0].map((s) => (host >>> s) & 255).join(".");
      const shift = 32 - prefix;
      const same = prefix === 0 ||
        Math.floor(net / 2 ** shift) === Math.floor(host / 2 ** shift);
      assert.equal(AllowList.parse([`${text}/${prefix}`]).allows(peer), same);
    }),
    { numRuns: 2000 },
  );
  const v6 = (n: bigint) =>
    Array.from({ length: 8 }, (_, i) => (n >> BigInt(112 - 16 * i)) & 0xffffn)
      .map((g) => g.toString(16)).join(":");
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }),
      fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }),
      fc.integer({ min: 0, max: 128 }),
      (net, host, prefix) => {
        // A mapped address with a prefix under 96 is refused by design.
        fc.pre(!(net >> 32n === 0xffffn && prefix < 96));
        const shift = BigInt(128 - prefix);
        // Often share the network part, so both answers are common.
        const peer = net >> 64n & 1n ? host : ((net >> shift) << shift) |
          (host & ((1n << shift) - 1n));
        assert.equal(
          AllowList.parse([`${v6(net)}/${prefix}`]).allows(v6(peer)),
          net >> shift === peer >> shift,
        );
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("IPv6 networks that cover the mapped range hold IPv4 peers too", () => {
  // Found by the fuzz test: a dual-stack listener reports IPv4 peers as
  // ::ffff:a.b.c.d, which ::/80 contains bit for bit.
  assert.equal(AllowList.parse(["::/80"]).allows("::ffff:0.0.0.0"), true);
  assert.equal(AllowList.parse(["::/0"]).allows("192.0.2.1"), true);
  assert.equal(AllowList.parse(["::/96"]).allows("192.0.2.1"), false);
  assert.equal(AllowList.parse(["2001:db8::/32"]).allows("192.0.2.1"), false);
  assert.equal(
    AllowList.parse(["::ffff:10.0.0.0/104"]).allows("10.9.9.9"),
    true,
  );
  assert.equal(
    AllowList.parse(["::ffff:10.0.0.0/104"]).allows("11.0.0.1"),
    false,
  );
});
