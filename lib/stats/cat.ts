/**
 * The original Flask stats API's routes (SPEC 1.6), answering the same
 * plain-text shapes so existing scripts keep working. Two deliberate fixes:
 * an unknown hash is a 404 (the original answered `Hash not found` with
 * 200), and a stored document, untrusted HTML, is served so a browser never
 * runs it.
 *
 * @module
 */
import type { StoreReader } from "../store/mod.ts";
import { DOCUMENT_HEADERS, textResponse } from "./respond.ts";
import { formatPlainTable } from "./tabulate.ts";

/** How many hashes `/_cat/hashes` lists, as the original. */
export const CAT_HASHES_LIMIT = 100;

/**
 * The body of `/_cat`: the original's four lines joined by LF, no final
 * newline, then the routes this edition adds, one per line.
 */
export const CAT_INDEX: string = [
  "=^.^=",
  "/_cat/hashes",
  "/_cat/hashes/{hash}",
  "/_cat/clients",
  "/dashboard",
  "/api/blocks",
  "/api/blocks/{hash}",
  "/api/clients",
  "/api/summary",
  "/api/series",
  "/api/gaps",
  "/api/servers",
].join("\n");

/** The body of an unknown hash, as the original's. */
export const HASH_NOT_FOUND = "Hash not found";

/** `/_cat`. */
export function catIndex(): Response {
  return textResponse(CAT_INDEX);
}

/**
 * `/_cat/hashes`: the newest 100 documents, `hash` and `timestamp` (first
 * seen, Unix seconds to 4 decimals), as tabulate's plain format.
 */
export async function catHashes(reader: StoreReader): Promise<Response> {
  const blocks = await reader.recentBlocks({ limit: CAT_HASHES_LIMIT });
  return textResponse(formatPlainTable(
    [{ header: "hash", kind: "text" }, { header: "timestamp", kind: "float" }],
    // A time nothing recorded (an original server's row in MySQL) is blank.
    blocks.map((b) => [
      b.hash,
      b.score ?? (b.firstSeen > 0 ? b.firstSeen / 1000 : null),
    ]),
  ));
}

/** `/_cat/clients`: `client` and `count`, most documents first. */
export async function catClients(reader: StoreReader): Promise<Response> {
  const clients = await reader.clients();
  return textResponse(formatPlainTable(
    [{ header: "client", kind: "text" }, { header: "count", kind: "int" }],
    clients.map((c) => [c.ip, c.count]),
  ));
}

/**
 * `/_cat/hashes/{hash}`: the stored payload as text, with headers that stop
 * a browser from rendering or running it; 404 `Hash not found` otherwise.
 * `hash` must already be validated.
 */
export async function catDocument(
  reader: StoreReader,
  hash: string,
): Promise<Response> {
  const record = await reader.document(hash);
  if (record?.payload === undefined) {
    return textResponse(HASH_NOT_FOUND, { status: 404 });
  }
  return textResponse(record.payload, { headers: { ...DOCUMENT_HEADERS } });
}
