/**
 * `--ack auto` across a change of server behind one address (SPEC part 3):
 * the real client process sends to 127.0.0.1:PORT, where our real server
 * program and a stand-in for an original server (reads one frame, closes
 * without answering) take turns. With `auto`, each block reaches the
 * stand-in at most three times and the client keeps advancing; an `ok`
 * after that makes the address an answering server again. With `required`,
 * a close is never counted: the client stays on the undelivered block.
 */
import assert from "node:assert/strict";
import { RpcStub } from "../_helpers/rpc_stub.ts";
import { type Child, runProgram } from "../_helpers/process.ts";
import { freePort, waitFor, waitForPort } from "../_helpers/net.ts";
import { blocksPrinted } from "../_helpers/blocks.ts";

/** An original server: reads one frame per connection and closes, silent. */
class StandIn implements AsyncDisposable {
  /** The block of every frame read, in arrival order. */
  readonly received: bigint[] = [];
  readonly #listener: Deno.Listener;
  readonly #serving: Promise<void>;

  constructor(port: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port });
    this.#serving = this.#serve();
  }

  /** How many times `block` arrived. */
  count(block: bigint): number {
    return this.received.filter((b) => b === block).length;
  }

  async #serve() {
    for await (const conn of this.#listener) {
      try {
        const frame = await readFrame(conn);
        const block = /<p>(\d+)<\/p>/.exec(frame)?.[1];
        if (block !== undefined) this.received.push(BigInt(block));
      } catch { /* a peer that went away: nothing read */ }
      conn.close();
    }
  }

  async [Symbol.asyncDispose]() {
    this.#listener.close();
    await this.#serving.catch(() => {});
  }
}

/** Reads one netstring (or up to EOF) and returns its text. */
async function readFrame(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(4096);
  let text = "";
  while (true) {
    const header = /^(\d+):/.exec(text);
    if (header && text.length >= header[0].length + Number(header[1]) + 1) {
      return text;
    }
    const n = await conn.read(buffer);
    if (n === null) return text;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
}

/** Our server program on `port`, storing nothing, once it accepts. */
async function ourServer(port: number): Promise<Child> {
  const child = runProgram("server.ts", [
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--no-store",
  ]);
  await waitForPort(port);
  return child;
}

/** Reads one counter or gauge (without labels) from the client's /metrics. */
async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  assert.ok(line, `no ${name} in /metrics`);
  return Number(line.split(" ")[1]);
}

/** The client process, polling `stub` fast and sending to `port`. */
function client(
  stub: RpcStub,
  port: number,
  metricsPort: number,
  ack: string,
): Child {
  return runProgram("client.ts", [
    "--host",
    `127.0.0.1:${port}`,
    "--rpc-url",
    stub.url,
    "--interval",
    "0.05",
    "--timeout",
    "1",
    "--ack",
    ack,
    "--metrics-port",
    String(metricsPort),
    "-v",
  ]);
}

/** Moves the stub's chain up to `to`, a block at a time. */
async function mineTo(stub: RpcStub, to: bigint) {
  while (stub.chain.head < to) {
    stub.chain.head++;
    await new Promise((r) => setTimeout(r, 150));
  }
}

const SWITCH_WARNING = (port: number) =>
  new RegExp(
    `WARN .*127\\.0\\.0\\.1:${port} answered before but closed without an acknowledgement 3 times in a row`,
  );

Deno.test("--ack auto: our server, an original stand-in, ours, the stand-in again on one address: at most 3 sends of a block to the stand-in, and the client advances", async () => {
  const port = freePort();
  const metricsPort = freePort();
  await using stub = new RpcStub({ chain: { head: 1000n, step: 0n } });
  let ours = await ourServer(port);
  try {
    await using sender = client(stub, port, metricsPort, "auto");
    const lastSent = () => metric(metricsPort, "eth_client_last_sent_block");
    await mineTo(stub, 1002n);
    await waitFor(() => blocksPrinted(ours.stdout).includes(1002n), {
      what: "our server printing block 1002",
    });
    await ours.stop("SIGTERM");
    const printed = [...blocksPrinted(ours.stdout)];

    // An original takes the address: three silent closes, then delivered.
    const standIns: StandIn[] = [];
    {
      await using standIn = new StandIn(port);
      standIns.push(standIn);
      await mineTo(stub, 1006n);
      await waitFor(async () => await lastSent() === 1006, {
        what: "the client delivering block 1006 to the stand-in",
      });
      const first = standIn.received[0];
      assert.equal(standIn.count(first), 3, `block ${first}`);
      for (const block of new Set(standIn.received)) {
        if (block !== first) assert.equal(standIn.count(block), 1, `${block}`);
      }
      assert.equal(
        await metric(metricsPort, "eth_client_servers_without_ack_total"),
        1,
      );
    }

    // Ours again: its ok makes the address an answering server again.
    ours = await ourServer(port);
    await mineTo(stub, 1009n);
    await waitFor(() => blocksPrinted(ours.stdout).includes(1009n), {
      what: "our restarted server printing block 1009",
    });
    await ours.stop("SIGTERM");
    printed.push(...blocksPrinted(ours.stdout));

    {
      await using standIn = new StandIn(port);
      standIns.push(standIn);
      await mineTo(stub, 1012n);
      await waitFor(async () => await lastSent() === 1012, {
        what: "the client delivering block 1012 to the second stand-in",
      });
      // A close after the ok counts again: three for the first block.
      const first = standIn.received[0];
      assert.equal(standIn.count(first), 3, `block ${first}`);
      assert.ok(standIn.received.every((b) => standIn.count(b) <= 3));
      assert.equal(
        await metric(metricsPort, "eth_client_servers_without_ack_total"),
        2,
      );
    }

    // From the first head the client believed, every block reached one
    // server or the other; none was skipped.
    const reached = new Set([
      ...printed,
      ...standIns.flatMap((s) => s.received),
    ]);
    for (let block = printed[0]; block <= 1012n; block++) {
      assert.ok(reached.has(block), `block ${block} never sent`);
    }
    await sender.stop("SIGTERM");
    const warnings = sender.stderr.filter((l) => SWITCH_WARNING(port).test(l));
    assert.equal(warnings.length, 2, sender.stderr.join("\n"));
  } finally {
    await ours.stop("SIGKILL");
  }
});

Deno.test("--ack required: a stand-in that closes without answering never counts, and the block is delivered once ours is back", async () => {
  const port = freePort();
  const metricsPort = freePort();
  await using stub = new RpcStub({ chain: { head: 2000n, step: 0n } });
  let ours = await ourServer(port);
  try {
    await using sender = client(stub, port, metricsPort, "required");
    const lastSent = () => metric(metricsPort, "eth_client_last_sent_block");
    await mineTo(stub, 2002n);
    await waitFor(async () => await lastSent() === 2002, {
      what: "the client delivering block 2002 to our server",
    });
    await ours.stop("SIGTERM");
    {
      await using standIn = new StandIn(port);
      await mineTo(stub, 2004n);
      // Retried well past three closes, and never counted as delivered.
      await waitFor(() => standIn.count(2003n) >= 6, {
        what: "block 2003 reaching the stand-in 6 times",
      });
      assert.equal(await lastSent(), 2002);
      assert.deepEqual(new Set(standIn.received), new Set([2003n]));
      assert.equal(
        await metric(metricsPort, "eth_client_servers_without_ack_total"),
        0,
      );
    }
    ours = await ourServer(port);
    await waitFor(async () => await lastSent() === 2004, {
      what: "the client delivering blocks 2003 and 2004 to our server",
    });
    assert.deepEqual(blocksPrinted(ours.stdout), [2003n, 2004n]);
    await sender.stop("SIGTERM");
    assert.ok(
      !sender.stderr.some((l) => SWITCH_WARNING(port).test(l)),
      "no switch to an original under --ack required",
    );
  } finally {
    await ours.stop("SIGKILL");
  }
});
