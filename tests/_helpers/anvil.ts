/** A real Ethereum JSON-RPC node for tests: anvil from npm. */
import { Child } from "./process.ts";
import { freePort, waitFor } from "./net.ts";

export const ANVIL = "npm:@foundry-rs/anvil@1.7.1";

/** A running anvil node. */
export class Anvil implements AsyncDisposable {
  readonly port: number;
  readonly blockTime: number | undefined;
  readonly state: string | undefined;
  #child: Child | undefined;

  private constructor(
    port: number,
    blockTime: number | undefined,
    state: string | undefined,
  ) {
    this.port = port;
    this.blockTime = blockTime;
    this.state = state;
  }

  /**
   * Starts anvil on a free port, mining every `blockTime` s if given; with
   * `state` (a file path) the chain is saved on stop and reloaded on restart.
   */
  static async start(
    { blockTime, port = freePort(), state }: {
      blockTime?: number;
      port?: number;
      state?: string;
    } = {},
  ): Promise<Anvil> {
    const anvil = new Anvil(port, blockTime, state);
    await anvil.restart();
    return anvil;
  }

  /** The HTTP JSON-RPC URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The WebSocket JSON-RPC URL. */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Calls a JSON-RPC method and returns its result. */
  async rpc(method: string, params: unknown[] = []): Promise<unknown> {
    const res = await fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    const body = await res.json();
    if (body.error) throw new Error(JSON.stringify(body.error));
    return body.result;
  }

  /** The current block number. */
  async blockNumber(): Promise<bigint> {
    return BigInt(await this.rpc("eth_blockNumber") as string);
  }

  /** Mines `count` blocks at once. */
  async mine(count: number): Promise<void> {
    await this.rpc("anvil_mine", [`0x${count.toString(16)}`]);
  }

  /** Stops the node (the port is free afterwards). */
  async stop(): Promise<void> {
    await this.#child?.stop("SIGTERM");
    this.#child = undefined;
  }

  /** Starts the node again on the same port (fresh chain unless `state`). */
  async restart(): Promise<void> {
    await this.stop();
    const args = [
      "run",
      "-A",
      // Keep anvil out of the project's lockfile: users never install it.
      "--no-config",
      "--no-lock",
      ANVIL,
      "--port",
      String(this.port),
      "--host",
      "127.0.0.1",
    ];
    if (this.state !== undefined) args.push("--state", this.state);
    if (this.blockTime !== undefined) {
      args.push("--block-time", String(this.blockTime));
    }
    this.#child = new Child(Deno.execPath(), args);
    await waitFor(() => this.blockNumber().then(() => true, () => false), {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: `anvil on port ${this.port}`,
    });
  }

  async [Symbol.asyncDispose]() {
    await this.stop();
  }
}
