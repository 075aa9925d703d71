/**
 * The Redis store's keys: the originals' `eth:hashes` and
 * `eth:ip_addresses` (SPEC 1.5), plus keys of our own for what they did not
 * keep. Redis keeps no payloads.
 *
 * | key | type | member / field | value |
 * |---|---|---|---|
 * | `eth:hashes` | sorted set | document hash | first receipt, Unix s (ZADD NX) |
 * | `eth:ip_addresses` | hash | client IP | documents received (HINCRBY 1) |
 * | `eth:blocks` | hash | document hash | block number |
 * | `eth:servers` | hash | document hash | server that stored the first copy |
 * | `eth:clients:first_seen` | hash | client IP | first receipt, ms |
 * | `eth:clients:last_seen` | hash | client IP | latest receipt, ms |
 * | `ethts:batches` | sorted set | batch id | when it was saved, µs (Redis clock) |
 * | `ethts:batches:results` | hash | batch id | the batch's first-copy flags |
 *
 * The last two are this project's own bookkeeping, outside the originals'
 * `eth:` keyspace: one bounded record of recent batches (at most
 * {@linkcode BATCH_RECORD_MAX} entries, none older than an hour, trimmed by
 * the same script that adds to it), so that a batch retried after its reply
 * was lost is recognised and not counted twice.
 *
 * @module
 */

/** The key names of a store, with its prefix. */
export interface RedisKeys {
  /** `eth:hashes`: document hash to first receipt, Unix s. */
  hashes: string;
  /** `eth:ip_addresses`: client IP to documents received. */
  ips: string;
  /** `eth:blocks`: document hash to block number. */
  blocks: string;
  /** `eth:servers`: document hash to the server that stored it first. */
  servers: string;
  /** `eth:clients:first_seen`: client IP to first receipt, ms. */
  clientsFirstSeen: string;
  /** `eth:clients:last_seen`: client IP to latest receipt, ms. */
  clientsLastSeen: string;
  /** `ethts:batches`: recent batch ids. */
  batches: string;
  /** `ethts:batches:results`: each recent batch's first-copy flags. */
  batchResults: string;
}

/** Recent batches remembered at most (see the module doc). */
export const BATCH_RECORD_MAX = 10_000;
/** How long a batch is remembered at most, in ms: a retry comes within seconds. */
export const BATCH_RECORD_MAX_AGE_MS = 3600_000;

/** The key names, with the configured prefix. */
export function redisKeys(prefix = ""): RedisKeys {
  return {
    hashes: `${prefix}eth:hashes`,
    ips: `${prefix}eth:ip_addresses`,
    blocks: `${prefix}eth:blocks`,
    servers: `${prefix}eth:servers`,
    clientsFirstSeen: `${prefix}eth:clients:first_seen`,
    clientsLastSeen: `${prefix}eth:clients:last_seen`,
    batches: `${prefix}ethts:batches`,
    batchResults: `${prefix}ethts:batches:results`,
  };
}
