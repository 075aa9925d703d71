/**
 * One WebSocket connection speaking JSON-RPC, with at most one `newHeads`
 * subscription: requests matched to answers by id, notifications of that
 * subscription passed on, every other message judged by `jsonrpc.ts` and
 * reported as bad. Messages over the size limit close the connection.
 *
 * @module
 */
import {
  cleanText,
  describeCall,
  encodeRequest,
  MAX_MESSAGE_BYTES,
  parseBlockNumber,
  parseMessage,
  redactUrl,
  redactUrlsIn,
  replyResult,
  RpcError,
  type RpcErrorKind,
} from "../shared/mod.ts";
import { WsSocket } from "./ws_socket.ts";

/** What a {@linkcode WsSession} reports as messages arrive. */
export interface WsSessionHandlers {
  /** A head from a notification of our subscription. */
  onNotification: (head: bigint) => void;
  /** A message that was skipped (or, for `too_large`, ended the socket). */
  onBadMessage: (kind: RpcErrorKind, message: string) => void;
}

interface Pending {
  method: string;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** One WebSocket connection speaking JSON-RPC, with at most one subscription. */
export class WsSession {
  /** The endpoint. */
  readonly url: string;
  readonly #handlers: WsSessionHandlers;
  readonly #maxMessageBytes: number;
  readonly #pending = new Map<number, Pending>();
  readonly #closed = Promise.withResolvers<string>();
  readonly #controller = new AbortController();
  #socket: WsSocket | undefined;
  #id = 0;
  #subscription: string | undefined;
  #reason: string | undefined;

  /** A session for `url`; nothing happens until {@linkcode WsSession.open}. */
  constructor(
    url: string,
    handlers: WsSessionHandlers,
    { maxMessageBytes = MAX_MESSAGE_BYTES }: { maxMessageBytes?: number } = {},
  ) {
    this.url = url;
    this.#handlers = handlers;
    this.#maxMessageBytes = maxMessageBytes;
  }

  /** Resolves with the reason once the socket is closed. */
  get closed(): Promise<string> {
    return this.#closed.promise;
  }

  /** Aborted once the socket is closed. */
  get closedSignal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Connects; rejects with an `RpcError` after `timeoutMs` or on failure. */
  async open(timeoutMs: number, signal: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const connecting = AbortSignal.any([signal, timeout, this.closedSignal]);
    const what = `WebSocket ${redactUrl(this.url)}`;
    // connectTls takes no signal: the race settles open() in time anyway.
    const aborted = Promise.withResolvers<never>();
    const onAbort = () => aborted.reject(connecting.reason);
    connecting.addEventListener("abort", onAbort, { once: true });
    const attempt = WsSocket.connect(this.url, {
      maxMessageBytes: this.#maxMessageBytes,
      signal: connecting,
      onMessage: (data) => this.#message(data),
    });
    try {
      this.#socket = await Promise.race([attempt, aborted.promise]);
    } catch (error) {
      attempt.then((late) => late.close(), () => {});
      const reason = timeout.aborted
        ? `connect timed out after ${timeoutMs} ms`
        : this.closedSignal.aborted
        ? this.#reason ?? "closed"
        : `cannot connect: ${
          cleanText(redactUrlsIn((error as Error).message))
        }`;
      this.#finish(reason);
      throw new RpcError(
        timeout.aborted ? "timeout" : "transport",
        this.url,
        timeout.aborted ? `${what} ${reason}` : `${what} failed: ${reason}`,
      );
    } finally {
      connecting.removeEventListener("abort", onAbort);
    }
    this.#socket.closed.then((closed) => {
      if (closed.tooLarge) {
        this.#handlers.onBadMessage(
          "too_large",
          `sent ${closed.reason}; refused, closing the socket`,
        );
      }
      this.#finish(
        this.#reason ??
          `code ${closed.code}${closed.reason ? `: ${closed.reason}` : ""}`,
      );
    });
  }

  /** Subscribes to `newHeads`. */
  async subscribe(timeoutMs: number, signal: AbortSignal): Promise<void> {
    const id = await this.request(
      "eth_subscribe",
      ["newHeads"],
      timeoutMs,
      signal,
    );
    if (typeof id !== "string" || id === "") {
      throw new RpcError(
        "result",
        this.url,
        `${
          describeCall({ method: "eth_subscribe", endpoint: this.url })
        } returned ${
          cleanText(JSON.stringify(id)?.slice(0, 60) ?? "undefined")
        }, not a subscription id`,
      );
    }
    this.#subscription = id;
  }

  /** Asks `eth_blockNumber` and parses the answer as a block number. */
  async blockNumber(timeoutMs: number, signal?: AbortSignal): Promise<bigint> {
    const call = { method: "eth_blockNumber", endpoint: this.url };
    return parseBlockNumber(
      await this.request(call.method, [], timeoutMs, signal),
      call,
    );
  }

  /** Sends one request and resolves with its `result`. */
  request(
    method: string,
    params: unknown[],
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const what = describeCall({ method, endpoint: this.url });
    const socket = this.#socket;
    if (this.closedSignal.aborted || !socket) {
      return Promise.reject(
        new RpcError("transport", this.url, `${what} failed: socket closed`),
      );
    }
    const id = ++this.#id;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      this.#pending.delete(id);
    };
    const timer = setTimeout(() => {
      done();
      reject(
        new RpcError(
          "timeout",
          this.url,
          `${what} timed out after ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    const onAbort = () => {
      done();
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#pending.set(id, {
      method,
      resolve: (value) => {
        done();
        resolve(value);
      },
      reject: (error) => {
        done();
        reject(error);
      },
    });
    socket.send(encodeRequest(id, method, params)).catch((error) =>
      this.#pending.get(id)?.reject(
        new RpcError(
          "transport",
          this.url,
          `${what} failed: ${cleanText((error as Error).message)}`,
        ),
      )
    );
    return promise;
  }

  /** Closes the socket (if open) and resolves once it is closed. */
  async close(reason: string): Promise<void> {
    if (!this.closedSignal.aborted) {
      this.#reason ??= reason;
      if (this.#socket) await this.#socket.close(1000);
      else this.#finish(reason);
    }
    await this.#closed.promise;
  }

  #finish(reason: string) {
    if (this.closedSignal.aborted) return;
    for (const pending of [...this.#pending.values()]) {
      pending.reject(
        new RpcError(
          "transport",
          this.url,
          `${
            describeCall({ method: pending.method, endpoint: this.url })
          } failed: WebSocket closed (${reason})`,
        ),
      );
    }
    this.#controller.abort();
    this.#closed.resolve(reason);
  }

  #message(data: string | Uint8Array) {
    const bad = this.#handlers.onBadMessage;
    if (typeof data !== "string") {
      bad("json", "sent a binary message");
      return;
    }
    let m: Record<string, unknown>;
    try {
      m = parseMessage(data, { method: "a message", endpoint: this.url });
    } catch (error) {
      // Only a JSON syntax error has a cause.
      bad(
        "json",
        (error as Error).cause
          ? `sent malformed JSON ${
            cleanText(JSON.stringify(data.slice(0, 60)))
          }`
          : "sent JSON that is not a message object",
      );
      return;
    }
    if (m.method === "eth_subscription") {
      const params = m.params as Record<string, unknown> | undefined;
      if (
        this.#subscription === undefined ||
        params?.subscription !== this.#subscription
      ) {
        return;
      }
      const number = (params.result as Record<string, unknown> | undefined)
        ?.number;
      let head: bigint;
      try {
        head = parseBlockNumber(number, {
          method: "newHeads",
          endpoint: this.url,
        });
      } catch {
        bad(
          "result",
          `sent a newHeads notification without a valid number (${
            cleanText(JSON.stringify(number)?.slice(0, 60) ?? "undefined")
          })`,
        );
        return;
      }
      this.#handlers.onNotification(head);
      return;
    }
    const pending = typeof m.id === "number"
      ? this.#pending.get(m.id)
      : undefined;
    if (!pending) {
      bad("json", "sent an answer to no request");
      return;
    }
    try {
      pending.resolve(
        replyResult(m, { method: pending.method, endpoint: this.url }),
      );
    } catch (error) {
      pending.reject(error);
    }
  }
}
