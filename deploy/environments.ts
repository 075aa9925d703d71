/**
 * What each program is told on AWS, in one place: the environment of the
 * Fargate clients, the Beanstalk servers and the stats Lambda, and which of
 * their variables are secrets. The constructs and the tests both read these
 * tables, so the tests parse exactly what is deployed.
 *
 * @module
 */

/** The servers' TCP port, as the originals' deployment. */
export const SERVER_PORT = 8888;
/** Where the server serves `/livez`, `/readyz` and `/metrics`. */
export const SERVER_METRICS_PORT = 9102;
/** Where the client serves `/livez` and `/metrics`. */
export const CLIENT_METRICS_PORT = 9101;
/** Where the stats API listens inside its container (the Web Adapter's target). */
export const STATS_PORT = 8080;
/** MySQL's and Redis's ports (the originals' and the programs' defaults). */
export const MYSQL_PORT = 3306;
export const REDIS_PORT = 6379;
/** Database and user, as the originals. */
export const MYSQL_DATABASE = "eth";
export const MYSQL_USER = "eth_user";
/**
 * How long a server keeps writing queued documents after SIGTERM, in
 * seconds; every stop grace period must be longer.
 */
export const STORE_FLUSH_TIMEOUT = 10;
/** Seconds a container gets between SIGTERM and SIGKILL. */
export const STOP_GRACE = 30;

/** Where the stores are; tokens when synthesized. */
export interface StoreEndpoints {
  mysqlHost: string;
  redisHost: string;
}

/** Variables set to the value of a secret by the platform, by reference. */
export type SecretRefs = Record<string, "mysql" | "redis" | "rpc">;

/** The client containers' plain variables. */
export function clientEnvironment(
  servers: { host: string; port: number },
): Record<string, string> {
  return {
    ETH_CLIENT_HOST: servers.host,
    ETH_CLIENT_PORT: String(servers.port),
    ETH_CLIENT_METRICS_PORT: String(CLIENT_METRICS_PORT),
    ETH_CLIENT_INTERVAL: "5",
  };
}
/** The client's secrets: the RPC URL usually carries a provider's key. */
export const CLIENT_SECRETS: SecretRefs = { ETH_RPC_URL: "rpc" };

function storeEnvironment(prefix: string, stores: StoreEndpoints) {
  return {
    [`${prefix}_USE_MYSQL`]: "1",
    [`${prefix}_MYSQL_HOST`]: stores.mysqlHost,
    [`${prefix}_MYSQL_PORT`]: String(MYSQL_PORT),
    [`${prefix}_MYSQL_USER`]: MYSQL_USER,
    [`${prefix}_MYSQL_DB`]: MYSQL_DATABASE,
    [`${prefix}_MYSQL_TLS`]: "1",
    [`${prefix}_MYSQL_CA`]: "rds",
    [`${prefix}_USE_REDIS`]: "1",
    [`${prefix}_REDIS_HOST`]: stores.redisHost,
    [`${prefix}_REDIS_PORT`]: String(REDIS_PORT),
    [`${prefix}_REDIS_TLS`]: "1",
  };
}

/** The servers' plain variables. */
export function serverEnvironment(
  stores: StoreEndpoints,
): Record<string, string> {
  return {
    ETH_SERVER_HOST: "0.0.0.0",
    ETH_SERVER_PORT: String(SERVER_PORT),
    ETH_SERVER_METRICS_PORT: String(SERVER_METRICS_PORT),
    ETH_SERVER_STORE_FLUSH_TIMEOUT: String(STORE_FLUSH_TIMEOUT),
    ...storeEnvironment("ETH_SERVER", stores),
  };
}
/** The servers' secrets, injected by Elastic Beanstalk from Secrets Manager. */
export const SERVER_SECRETS: SecretRefs = {
  ETH_SERVER_MYSQL_PASS: "mysql",
  ETH_SERVER_REDIS_PASS: "redis",
};

/** The stats function's plain variables. */
export function statsEnvironment(
  stores: StoreEndpoints,
): Record<string, string> {
  return {
    ETH_STATS_HOST: "127.0.0.1",
    ETH_STATS_PORT: String(STATS_PORT),
    ...storeEnvironment("ETH_STATS", stores),
  };
}
/**
 * The stats function's secrets. Lambda has no secrets by reference, and a
 * value in its environment is readable through GetFunctionConfiguration, so
 * the function gets `<NAME>_SECRET_ARN` and the image's entrypoint
 * (`deploy/secrets_to_files.sh`) fetches each secret at start into a file
 * under /tmp and sets `<NAME>_FILE` to it.
 */
export const STATS_SECRETS: SecretRefs = {
  ETH_STATS_MYSQL_PASS: "mysql",
  ETH_STATS_REDIS_PASS: "redis",
};

/** Suffix of the variables the stats entrypoint turns into `<NAME>_FILE`. */
export const SECRET_ARN_SUFFIX = "_SECRET_ARN";
/** Where the stats entrypoint writes the secrets (Lambda's only writable place). */
export const SECRET_FILES_DIR = "/tmp/eth-secrets";
