/**
 * `deno task devnet`: a local anvil chain for trying the client without
 * internet. Prints the `ETH_RPC_URL` to use once the node answers, and
 * stops anvil on Ctrl-C. Run `deno task devnet --help` for its options.
 *
 * @module
 */
import {
  type Command,
  COMMON_OPTIONS,
  type CommonConfig,
  number,
  type OptionValues,
  port,
  text,
} from "../lib/shared/options.ts";
import { ConfigError } from "../lib/shared/options.ts";
import { RpcClient } from "../lib/shared/rpc.ts";
import { type MainContext, runMain } from "../lib/shared/run_main.ts";
import { abortableSleep } from "../lib/shared/async.ts";
import { formatHostPort } from "../lib/shared/net.ts";

/** Option table of `deno task devnet`. */
export const DEVNET_OPTIONS = {
  host: text({
    name: "host",
    value: "HOST",
    default: "127.0.0.1",
    env: ["ETH_DEVNET_HOST"],
    help: "address anvil listens on",
  }),
  port: port({
    name: "port",
    default: 8545,
    env: ["ETH_DEVNET_PORT"],
    help: "JSON-RPC port (HTTP and WebSocket)",
  }),
  blockTime: number({
    name: "block-time",
    value: "SECONDS",
    default: 2,
    max: 86400,
    env: ["ETH_DEVNET_BLOCK_TIME"],
    help: "mine a block this often (may be fractional; 0: only on demand)",
  }),
  stateFile: text({
    name: "state",
    value: "FILE",
    env: ["ETH_DEVNET_STATE"],
    help: "keep the chain in this file across restarts (default: none)",
  }),
  ...COMMON_OPTIONS,
};

/** Configuration of `deno task devnet`. */
export type DevnetConfig =
  & CommonConfig
  & Omit<OptionValues<typeof DEVNET_OPTIONS>, "help">;

/** The devnet script's command line. */
export const DEVNET_COMMAND: Command<typeof DEVNET_OPTIONS, DevnetConfig> = {
  name: "devnet",
  usage: "deno task devnet [options]",
  summary: "Runs a local anvil chain and prints the ETH_RPC_URL to use.",
  options: DEVNET_OPTIONS,
  configure: ({ help: _, ...config }) => config,
};

/** The anvil build used here and in the tests. */
const ANVIL = "npm:@foundry-rs/anvil@1.7.1";
/** The first run downloads anvil from npm, which may take a while. */
const START_TIMEOUT_MS = 120_000;

/** Runs anvil until `signal` aborts or anvil exits. */
async function runDevnet(
  { config, log, signal }: MainContext<DevnetConfig>,
): Promise<void> {
  assertPortFree(config.host, config.port);
  const args = [
    "run",
    "-A",
    "--no-config",
    "--no-lock",
    ANVIL,
    "--host",
    config.host,
    "--port",
  ];
  args.push(String(config.port));
  if (config.blockTime > 0) args.push("--block-time", String(config.blockTime));
  if (config.stateFile) args.push("--state", config.stateFile);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Anvil's banner (accounts, keys) goes to stderr with -v, so stdout holds
  // only the lines to paste; the tail is kept to explain an early exit.
  const tail: string[] = [];
  const forward = (stream: ReadableStream<Uint8Array>) =>
    stream.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({
        write(text) {
          for (const line of text.split("\n")) {
            if (line === "") continue;
            tail.push(line);
            if (tail.length > 20) tail.shift();
            log.debug(`anvil: ${line}`);
          }
        },
      }),
    ).catch(() => {});
  const drained = Promise.all([forward(child.stdout), forward(child.stderr)]);
  const stop = () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
  };
  signal.addEventListener("abort", stop, { once: true });
  let exited = false;
  const status = child.status.finally(() => exited = true);
  try {
    const hostPort = formatHostPort(config);
    const http = `http://${hostPort}`;
    if (await waitUntilAnswering(http, signal, () => exited)) {
      console.log(`export ETH_RPC_URL=${http}`);
      console.log(
        `# or, for a newHeads subscription: export ETH_RPC_URL=ws://${hostPort}`,
      );
      console.log(
        `# anvil is ${
          config.blockTime > 0
            ? `mining a block every ${config.blockTime} s`
            : "mining only on demand (anvil_mine)"
        }; Ctrl-C stops it`,
      );
    }
    const { code } = await status;
    await drained;
    if (!signal.aborted) {
      throw new Error(
        `anvil exited with status ${code}:\n${tail.join("\n")}`,
      );
    }
  } finally {
    signal.removeEventListener("abort", stop);
    stop();
    await status;
  }
}

/** Another node on the port would answer in anvil's place: refuse early. */
function assertPortFree(hostname: string, port: number) {
  try {
    Deno.listen({ hostname, port }).close();
  } catch (error) {
    throw new ConfigError(
      `Cannot listen on ${hostname}:${port}: ${
        (error as Error).message
      } (another node running? pick one with --port)`,
    );
  }
}

/** Polls `eth_blockNumber` until it answers; false when stopped first. */
async function waitUntilAnswering(
  url: string,
  signal: AbortSignal,
  exited: () => boolean,
): Promise<boolean> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  // No cool-down: the one endpoint is asked again at once on each round.
  const rpc = new RpcClient([url], { timeoutMs: 1000, cooldownMs: 0 });
  while (!signal.aborted && !exited()) {
    try {
      await rpc.blockNumber(signal);
      return true;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      throw new Error(`anvil did not answer on ${url} within 120 s`);
    }
    await abortableSleep(100, signal);
  }
  return false;
}

if (import.meta.main) {
  await runMain(DEVNET_COMMAND, runDevnet);
}
