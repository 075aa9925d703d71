/**
 * A JSON-RPC endpoint on 127.0.0.1 that answers each request with the next
 * scripted fault (a hang, a dropped connection, HTTP errors, HTML, JSON-RPC
 * errors, bad results), then with good `eth_blockNumber` answers. It speaks
 * HTTP/1.1 over a raw TCP listener so it can also misbehave below HTTP.
 */

/** One scripted answer. */
export type RpcFault =
  /** Read the request, then never answer (until the client gives up). */
  | { kind: "hang" }
  /** Close the connection without answering, after reading the request. */
  | { kind: "drop" }
  /** Close the connection as soon as it is accepted. */
  | { kind: "refuse" }
  /** Answer a status line with headers and a body, e.g. 429 or 503. */
  | {
    kind: "http";
    status: number;
    headers?: Record<string, string>;
    body?: string;
  }
  /** A JSON-RPC error object. */
  | { kind: "rpc_error"; code: number; message: string }
  /** A JSON-RPC response whose `result` is this value. */
  | { kind: "result"; result: unknown }
  /** A JSON-RPC response without `result` or `error`. */
  | { kind: "no_result" }
  /** A good answer carrying this head. */
  | { kind: "head"; head: bigint }
  /** Headers promise a body, then the connection closes half-way. */
  | { kind: "truncated" };

/** A request the stub saw. */
export interface StubRequest {
  method: string;
  /** `Date.now()` when it was read. */
  at: number;
  /** The fault answered, or `good`. */
  answer: RpcFault["kind"] | "good";
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The chain good answers report; several stubs may share one. */
export interface StubChain {
  /** The head the next good answer carries; tests may move it. */
  head: bigint;
  /** Added to `head` after each good answer (a chain that moves). */
  step: bigint;
}

/** The stub endpoint: scripted faults first, then good answers. */
export class RpcStub implements AsyncDisposable {
  /** Faults still to answer, first first. */
  readonly script: RpcFault[];
  /** Every request read, in order. */
  readonly requests: StubRequest[] = [];
  /** What good answers report. */
  readonly chain: StubChain;
  readonly #listener: Deno.Listener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #serving: Promise<void>;

  /** Starts a stub on a free port of 127.0.0.1. */
  constructor(
    { script = [], chain = { head: 100n, step: 1n } }: {
      script?: RpcFault[];
      chain?: StubChain;
    } = {},
  ) {
    this.script = [...script];
    this.chain = chain;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#serving = this.#serve();
  }

  /** The endpoint URL. */
  get url(): string {
    return `http://127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}/`;
  }

  /** Requests answered with a good head so far. */
  get goodAnswers(): number {
    return this.requests.filter((r) => r.answer === "good").length;
  }

  async #serve() {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return;
      }
      this.#conns.add(conn);
      const task = this.#handle(conn).finally(() => {
        this.#conns.delete(conn);
        this.#tasks.delete(task);
        try {
          conn.close();
        } catch { /* closed */ }
      });
      this.#tasks.add(task);
    }
  }

  async #handle(conn: Deno.Conn) {
    if (this.script[0]?.kind === "refuse") {
      this.script.shift();
      this.requests.push({ method: "", at: Date.now(), answer: "refuse" });
      return;
    }
    // One request per connection: every answer says `Connection: close`.
    const request = await readRequest(conn);
    if (request === undefined) return;
    let id: unknown = null;
    let method = "";
    try {
      const body = JSON.parse(request);
      id = body.id;
      method = String(body.method);
    } catch { /* answered anyway */ }
    const fault = this.script.shift();
    this.requests.push({
      method,
      at: Date.now(),
      answer: fault?.kind ?? "good",
    });
    const json = (body: unknown) =>
      respond(conn, 200, { "content-type": "application/json" }, body);
    switch (fault?.kind) {
      case undefined: {
        const head = this.chain.head;
        this.chain.head += this.chain.step;
        return json({ jsonrpc: "2.0", id, result: `0x${head.toString(16)}` });
      }
      case "hang":
        // Wait for the client to hang up (or the stub to stop).
        await conn.read(new Uint8Array(1)).catch(() => null);
        return;
      case "drop":
      case "refuse":
        return;
      case "http":
        return respond(
          conn,
          fault.status,
          fault.headers ?? {},
          fault.body ?? "",
        );
      case "rpc_error":
        return json({
          jsonrpc: "2.0",
          id,
          error: { code: fault.code, message: fault.message },
        });
      case "result":
        return json({ jsonrpc: "2.0", id, result: fault.result });
      case "no_result":
        return json({ jsonrpc: "2.0", id });
      case "head":
        return json({
          jsonrpc: "2.0",
          id,
          result: `0x${fault.head.toString(16)}`,
        });
      case "truncated":
        await conn.write(enc.encode(
          "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" +
            'content-length: 100\r\nconnection: close\r\n\r\n{"jsonrpc":',
        )).catch(() => {});
        return;
    }
  }

  /** Stops listening and closes every open connection. */
  async stop(): Promise<void> {
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await this.#serving;
    await Promise.allSettled([...this.#tasks]);
  }

  async [Symbol.asyncDispose]() {
    await this.stop();
  }
}

async function readRequest(conn: Deno.Conn): Promise<string | undefined> {
  const buf = new Uint8Array(64 * 1024);
  let filled = 0;
  try {
    while (filled < buf.length) {
      const n = await conn.read(buf.subarray(filled));
      if (n === null) return undefined;
      filled += n;
      const text = dec.decode(buf.subarray(0, filled));
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) continue;
      const length = Number(
        /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0,
      );
      const body = text.slice(end + 4);
      if (enc.encode(body).length >= length) return body;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

async function respond(
  conn: Deno.Conn,
  status: number,
  headers: Record<string, string>,
  body: unknown,
) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const bytes = enc.encode(text);
  const head = [
    `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    `content-length: ${bytes.length}`,
    "connection: close",
    "",
    "",
  ].join("\r\n");
  try {
    await conn.write(enc.encode(head));
    let at = 0;
    while (at < bytes.length) at += await conn.write(bytes.subarray(at));
  } catch { /* the client went away */ }
}

const REASONS: Record<number, string> = {
  200: "OK",
  404: "Not Found",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};
