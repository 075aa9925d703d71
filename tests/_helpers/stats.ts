/**
 * Test helpers for the stats API: raw HTTP requests (paths sent exactly as
 * given, which `fetch` would normalise), a writer that stores documents the
 * way the original Python server did, and a strict parser of the Prometheus
 * text format.
 */
import { sha256Hex } from "../../lib/server/ingest.ts";
import type { TestDatabase, TestRedis } from "./db.ts";

/** The Python original's DDL (SPEC 1.4). */
export const PYTHON_DDL = `CREATE TABLE ethereum_data (
  id INTEGER NOT NULL AUTO_INCREMENT,
  hash VARCHAR(64),
  payload TEXT,
  PRIMARY KEY (id),
  UNIQUE (hash)
)`;

/** A raw HTTP/1.1 answer. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `GET <target>` byte for byte and reads the whole answer. */
export async function rawRequest(
  port: number,
  target: string,
  { method = "GET", hostname = "127.0.0.1" } = {},
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname, port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `${method} ${target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`,
      ),
    );
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(16 * 1024);
    let n: number | null;
    while ((n = await conn.read(buffer)) !== null) {
      chunks.push(buffer.slice(0, n));
    }
    const text = new TextDecoder().decode(
      new Uint8Array(chunks.flatMap((c) => [...c])),
    );
    const split = text.indexOf("\r\n\r\n");
    const [statusLine, ...lines] = text.slice(0, split).split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const i = line.indexOf(":");
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    let body = text.slice(split + 4);
    if (headers["transfer-encoding"] === "chunked") body = unchunk(body);
    return { status: Number(statusLine.split(" ")[1]), headers, body };
  } finally {
    conn.close();
  }
}

function unchunk(body: string): string {
  let out = "";
  let rest = body;
  while (true) {
    const eol = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** A document as an original server left it: payload, score, client IP. */
export interface OriginalDocument {
  payload: string;
  /** Unix seconds as Python's `time.time()` gives them. */
  score: number;
  ip: string;
}

/**
 * Stores documents as the Python original server does, bypassing our code:
 * the SPEC DDL, `INSERT` of hash and payload, `ZADD NX` into `eth:hashes`
 * and `HINCRBY` of `eth:ip_addresses` (under the test's key prefix).
 */
export async function writeOriginal(
  db: TestDatabase,
  redis: TestRedis,
  docs: readonly OriginalDocument[],
): Promise<string[]> {
  await db.query(PYTHON_DDL);
  const hashes: string[] = [];
  for (const doc of docs) {
    const hash = sha256Hex(doc.payload);
    hashes.push(hash);
    await db.query(
      "INSERT INTO ethereum_data (hash, payload) VALUES (?, ?)",
      [hash, doc.payload],
    );
    await redis.client.zadd(redis.key("eth:hashes"), "NX", doc.score, hash);
    await redis.client.hincrby(redis.key("eth:ip_addresses"), doc.ip, 1);
  }
  return hashes;
}

/** One sample line of a metrics page. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed metrics page. */
export interface MetricsPage {
  /** Family name to its TYPE. */
  types: Map<string, string>;
  samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const SAMPLE = new RegExp(
  `^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?\\})? ` +
    `(NaN|[+-]Inf|[+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?)(?: -?\\d+)?$`,
);

/**
 * Parses the Prometheus text format (0.0.4) strictly, throwing on the
 * first line that breaks it: every line is a HELP, a TYPE or a sample; a
 * family's TYPE comes before its samples and once; histogram series have
 * ascending `le` buckets ending in `+Inf`, cumulative counts, and `_count`
 * equal to the `+Inf` bucket.
 */
export function parseMetrics(text: string): MetricsPage {
  if (!text.endsWith("\n")) throw new Error("Metrics must end with a newline");
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const lines = text.slice(0, -1).split("\n");
  for (const [i, line] of lines.entries()) {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    const help = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line);
    if (help) continue;
    const type = new RegExp(`^# TYPE (${NAME}) (\\S+)$`).exec(line);
    if (type) {
      if (types.has(type[1])) throw new Error(`TYPE given twice, ${where}`);
      if (
        !["counter", "gauge", "histogram", "summary", "untyped"].includes(
          type[2],
        )
      ) throw new Error(`Unknown type, ${where}`);
      types.set(type[1], type[2]);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`Not a valid sample, ${where}`);
    const labels: Record<string, string> = {};
    for (
      const l of (m[2] ?? "").matchAll(
        /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g,
      )
    ) {
      if (l[1] in labels) throw new Error(`Label given twice, ${where}`);
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);
    }
    const family = types.has(m[1])
      ? m[1]
      : m[1].replace(/_(bucket|sum|count)$/, "");
    if (!types.has(family)) throw new Error(`Sample before its TYPE, ${where}`);
    const value = m[3] === "NaN"
      ? NaN
      : m[3].endsWith("Inf")
      ? (m[3].startsWith("-") ? -Infinity : Infinity)
      : Number(m[3]);
    samples.push({ name: m[1], labels, value });
  }
  for (const [family, type] of types) {
    if (type !== "histogram") continue;
    const series = new Map<string, Sample[]>();
    for (const s of samples.filter((s) => s.name === `${family}_bucket`)) {
      const { le: _, ...rest } = s.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const [key, buckets] of series) {
      const les = buckets.map((b) =>
        Number(b.labels.le.replace("+Inf", "Infinity"))
      );
      if (les.at(-1) !== Infinity) throw new Error(`${family}${key}: no +Inf`);
      for (let i = 1; i < buckets.length; i++) {
        if (!(les[i] > les[i - 1]) || buckets[i].value < buckets[i - 1].value) {
          throw new Error(`${family}${key}: buckets not ascending/cumulative`);
        }
      }
      const count = samples.find((s) =>
        s.name === `${family}_count` &&
        JSON.stringify(Object.entries(s.labels).sort()) === key
      );
      if (count?.value !== buckets.at(-1)!.value) {
        throw new Error(`${family}${key}: _count differs from +Inf bucket`);
      }
    }
  }
  return { types, samples };
}
