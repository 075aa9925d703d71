/**
 * How the Redis store connects (npm:ioredis), and how a driver error
 * becomes a {@linkcode StoreError} that says why and what to change.
 *
 * @module
 */
import { Redis } from "ioredis";
import type { RedisConfig } from "./config.ts";
import type { Logger } from "../shared/mod.ts";
import { isCertificateError } from "./tls.ts";
import { StoreError } from "./types.ts";

/** How long a connection attempt may take, in ms. */
export const CONNECT_TIMEOUT_MS = 5000;
/** How long one command may take, in ms. */
export const COMMAND_TIMEOUT_MS = 10_000;

/** Says where a Redis store is, and how it is reached; never its password. */
export function describeRedis(config: RedisConfig): string {
  const { tls } = config;
  return `Redis ${
    config.username ? `${config.username}@` : ""
  }${config.host}:${config.port}/${config.db}${
    config.keyPrefix ? ` (keys ${config.keyPrefix}eth:*)` : ""
  }${tls ? ` over TLS${tls.caSource ? ` (CA ${tls.caSource})` : ""}` : ""}`;
}

/** The last connection error a client reported, to explain a failure. */
const lastErrors = new WeakMap<Redis, Error>();

/** A client of `config` that connects on first use (or `connect`). */
export function createClient(config: RedisConfig, log: Logger): Redis {
  const { tls } = config;
  const client = new Redis({
    host: config.host,
    port: config.port,
    db: config.db,
    username: config.username,
    password: config.password,
    // Verified against `ca` (or the system's CAs) and the host name.
    tls: tls && { ...(tls.ca ? { ca: tls.ca } : {}), rejectUnauthorized: true },
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    // Fail at once while disconnected: the caller's queue holds documents,
    // and a command in flight when the link drops is not silently resent.
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  });
  // Without a listener ioredis prints every connection error to the console.
  client.on("error", (error: Error) => {
    lastErrors.set(client, error);
    log.debug(`${describeRedis(config)}: ${error.message}`);
  });
  return client;
}

/** What to change when the error says AUTH or TLS failed, or "". */
function advice(config: RedisConfig, error: Error): string {
  if (/^(NOAUTH|WRONGPASS)/.test(error.message)) {
    return `: set the password with ${
      config.passwordFrom ?? "--redis-pass-file"
    }${config.username ? "" : " (and --redis-user for an ACL user)"}`;
  }
  if (config.tls && isCertificateError(error)) {
    return `: the server's certificate is not trusted${
      config.tls.caSource ? ` by ${config.tls.caSource}` : ""
    }: check --redis-ca`;
  }
  if (
    !config.tls && /EPIPE|ECONNRESET|closed before Redis/.test(error.message)
  ) {
    return " (add --redis-tls if the server requires TLS)";
  }
  return "";
}

/** A {@linkcode StoreError} saying `what` failed, why, and what to change. */
export function storeError(
  what: string,
  error: unknown,
  config?: RedisConfig,
): StoreError {
  // Only a script error means Redis answered and refused this data.
  const rejected = (error as Error).name === "ReplyError" &&
    !/^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOAUTH|WRONGPASS|NOPERM|OOM)/
      .test((error as Error).message);
  return new StoreError(
    `${what}: ${(error as Error).message}${
      config ? advice(config, error as Error) : ""
    }`,
    { cause: error, kind: rejected ? "rejected" : "unavailable" },
  );
}

/**
 * ioredis rejects a failed connection with "Connection is closed.", "Reached
 * the max retries per request limit" or, between reconnects, "Stream isn't
 * writeable"; the reason came as an event.
 */
export function explained(client: Redis, error: unknown): unknown {
  const vague = (e: unknown) =>
    /Connection is closed|max retries per request|Stream isn't writeable/.test(
      (e as Error).message,
    );
  if (!vague(error)) return error;
  const last = lastErrors.get(client);
  return last && !vague(last)
    ? last
    : new Error("the connection closed before Redis answered", {
      cause: error,
    });
}

/** Connects `client`; throws a {@linkcode StoreError} when it cannot. */
export async function connect(
  client: Redis,
  config: RedisConfig,
): Promise<void> {
  lastErrors.delete(client);
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw storeError(
      `Cannot reach ${describeRedis(config)}`,
      explained(client, error),
      config,
    );
  }
}
