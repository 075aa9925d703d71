/**
 * A fault-injecting TCP proxy for tests: forwards 127.0.0.1:<port> to a
 * target (MySQL, Redis) until {@linkcode FaultProxy.cut}, which drops every
 * open connection and refuses new ones (accepted, then closed at once) until
 * {@linkcode FaultProxy.restore}. The port stays bound throughout, so nobody
 * else can take it while the "network" is down.
 */
import { freePort } from "./net.ts";

/** Counters of a {@linkcode FaultProxy}. */
export interface FaultProxyStats {
  /** Connections forwarded. */
  forwarded: number;
  /** Connections refused while cut. */
  refused: number;
  /** Open connections dropped by `cut`. */
  dropped: number;
}

/** A running proxy; dispose to stop it. */
export class FaultProxy implements AsyncDisposable {
  /** The port to point a client at. */
  readonly port: number;
  /** Live counters. */
  readonly stats: FaultProxyStats = { forwarded: 0, refused: 0, dropped: 0 };
  readonly #listener: Deno.Listener;
  readonly #target: { hostname: string; port: number };
  readonly #pairs = new Set<[Deno.Conn, Deno.Conn | undefined]>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  #cut = false;
  #stall: PromiseWithResolvers<void> | undefined;
  /** Bytes clients may still send before a stall holds them. */
  #stallAfter = 0;
  #closed = false;

  private constructor(
    listener: Deno.Listener,
    target: { hostname: string; port: number },
  ) {
    this.#listener = listener;
    this.#target = target;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#accepting = this.#accept();
  }

  /** Starts forwarding a free port of 127.0.0.1 to `target`. */
  static start(
    target: { hostname?: string; port: number },
  ): FaultProxy {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: freePort() });
    return new FaultProxy(listener, {
      hostname: target.hostname ?? "127.0.0.1",
      port: target.port,
    });
  }

  /** Whether the proxy is cut now. */
  get isCut(): boolean {
    return this.#cut;
  }

  /** Drops every open connection and refuses new ones. */
  cut(): void {
    this.#cut = true;
    for (const pair of this.#pairs) {
      this.stats.dropped++;
      closePair(pair);
    }
  }

  /**
   * Keeps connections open but forwards nothing more until
   * {@linkcode FaultProxy.restore}: a peer that stops answering. With
   * `afterBytes`, clients may first send that many more bytes in all (to
   * stall in the middle of an exchange, not before it).
   */
  stall(afterBytes = 0): void {
    this.#stall ??= Promise.withResolvers();
    this.#stallAfter = afterBytes;
  }

  /** Forwards again (after a cut or a stall). */
  restore(): void {
    this.#cut = false;
    this.#stall?.resolve();
    this.#stall = undefined;
  }

  /**
   * How many of `n` bytes from a client may be forwarded now (0: wait for
   * {@linkcode FaultProxy.restored}).
   */
  #gate(n: number): number {
    if (!this.#stall) return n;
    const now = Math.min(n, this.#stallAfter);
    this.#stallAfter -= now;
    return now;
  }

  /** Resolves when no stall holds data (at once when none does). */
  restored(): Promise<void> {
    return this.#stall?.promise ?? Promise.resolve();
  }

  async #accept(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        break;
      }
      if (this.#cut) {
        this.stats.refused++;
        closeQuietly(conn);
        continue;
      }
      this.stats.forwarded++;
      this.#track(this.#forward(conn));
    }
  }

  #track(task: Promise<void>) {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #forward(client: Deno.Conn): Promise<void> {
    const pair: [Deno.Conn, Deno.Conn | undefined] = [client, undefined];
    this.#pairs.add(pair);
    try {
      const upstream = await Deno.connect(this.#target);
      pair[1] = upstream;
      if (this.#cut || this.#closed) return;
      await Promise.allSettled([
        pump(client, upstream, (n) => this.#gate(n), () => this.restored()),
        pump(
          upstream,
          client,
          // Answers flow until the clients' allowance is used up.
          (n) => this.#stall && this.#stallAfter === 0 ? 0 : n,
          () => this.restored(),
        ),
      ]);
    } catch {
      // The target refused or a side reset: the pair is closed below.
    } finally {
      this.#pairs.delete(pair);
      closePair(pair);
    }
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stall?.resolve();
    closeQuietly(this.#listener);
    for (const pair of this.#pairs) closePair(pair);
    await this.#accepting;
    await Promise.all([...this.#tasks]);
  }

  async [Symbol.asyncDispose]() {
    await this.close();
  }
}

/** Copies `from` to `to`; `allowed(n)` says how many of `n` bytes may go now. */
async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  allowed: (n: number) => number,
  restored: () => Promise<void>,
): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await from.read(buffer);
      if (n === null) break;
      let off = 0;
      while (off < n) {
        const now = allowed(n - off);
        if (now === 0) {
          await restored();
          continue;
        }
        const end = off + now;
        while (off < end) off += await to.write(buffer.subarray(off, end));
      }
    }
  } finally {
    // One side ended: end both, as a broken link would.
    closeQuietly(from);
    closeQuietly(to);
  }
}

function closePair([a, b]: [Deno.Conn, Deno.Conn | undefined]) {
  closeQuietly(a);
  if (b) closeQuietly(b);
}

function closeQuietly(resource: { close(): void }) {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}
