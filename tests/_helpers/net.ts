/** Test helpers for ports and waiting on sockets. */

/** Returns a TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return (listener.addr as Deno.NetAddr).port;
}

/** Resolves once `port` accepts connections; rejects after `timeoutMs`. */
export async function waitForPort(
  port: number,
  { hostname = "127.0.0.1", timeoutMs = 20_000 } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      const conn = await Deno.connect({ hostname, port });
      conn.close();
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`Port ${port} did not open in ${timeoutMs} ms`, {
          cause: error,
        });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Polls `check` until it returns a truthy value or `timeoutMs` passes. A
 * check that throws counts as "not yet" (e.g. a table the server has not
 * created yet); the last error is the timeout's cause.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 20_000, intervalMs = 50, what = "condition" } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (true) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}${
          lastError ? `; last error: ${(lastError as Error).message}` : ""
        }`,
        { cause: lastError },
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Writes raw bytes on a new connection, then half-closes and drains it. */
export async function sendRaw(
  port: number,
  bytes: Uint8Array | string,
  { hostname = "127.0.0.1" } = {},
): Promise<void> {
  const conn = await Deno.connect({ hostname, port });
  try {
    const data = typeof bytes === "string"
      ? new TextEncoder().encode(bytes)
      : bytes;
    await conn.write(data).catch(() => {});
    await conn.closeWrite().catch(() => {});
    const sink = new Uint8Array(64);
    try {
      while ((await conn.read(sink)) !== null) { /* drain */ }
    } catch { /* reset by the server is fine */ }
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}
