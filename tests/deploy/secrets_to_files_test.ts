/**
 * deploy/secrets_to_files.sh, the stats image's entrypoint, against a
 * stand-in Secrets Manager on 127.0.0.1: it signs the request, writes each
 * NAME_SECRET_ARN's value to a private file, exports NAME_FILE, drops the
 * ARN variable and runs the program; a failed read stops it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "../../scripts/compile.ts";

const SCRIPT = join(ROOT, "deploy/secrets_to_files.sh");
const has = (tool: string) =>
  new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null" })
    .outputSync().success;
const ready = has("curl") && has("jq");

Deno.test({
  name: `secrets_to_files.sh: NAME_SECRET_ARN becomes NAME_FILE${
    ready ? "" : " (ignored: needs curl and jq)"
  }`,
  ignore: !ready,
  async fn() {
    const seen: { target: string | null; auth: string; id: string }[] = [];
    const values: Record<string, string> = {
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mysql-AbC":
        'pa ss"word$1',
    };
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (req) => {
        const { SecretId } = await req.json();
        seen.push({
          target: req.headers.get("x-amz-target"),
          auth: req.headers.get("authorization") ?? "",
          id: SecretId,
        });
        return SecretId in values
          ? Response.json({ ARN: SecretId, SecretString: values[SecretId] })
          : Response.json({ __type: "ResourceNotFoundException" }, {
            status: 400,
          });
      },
    );
    const dir = await Deno.makeTempDir({ prefix: "eth_t_secrets_" });
    try {
      const run = (env: Record<string, string>) =>
        new Deno.Command(SCRIPT, {
          args: [
            "sh",
            "-c",
            'env | grep -E "_SECRET_ARN|_FILE=" | sort; [ -z "${ETH_STATS_MYSQL_PASS_FILE:-}" ] || cat "$ETH_STATS_MYSQL_PASS_FILE"',
          ],
          clearEnv: true,
          env: {
            PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
            AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
            AWS_SECRET_ACCESS_KEY: "example-key",
            AWS_SESSION_TOKEN: "example-token",
            ETH_SECRETS_ENDPOINT: `http://127.0.0.1:${server.addr.port}`,
            ETH_SECRET_FILES_DIR: join(dir, "s"),
            ...env,
          },
          stdout: "piped",
          stderr: "piped",
        }).output();
      const ok = await run({
        ETH_STATS_MYSQL_PASS_SECRET_ARN: Object.keys(values)[0],
      });
      const text = new TextDecoder().decode(ok.stdout);
      assert.ok(ok.success, new TextDecoder().decode(ok.stderr));
      const file = join(dir, "s", "ETH_STATS_MYSQL_PASS");
      assert.equal(
        text,
        `ETH_STATS_MYSQL_PASS_FILE=${file}\n${values[Object.keys(values)[0]]}`,
      );
      assert.equal((await Deno.stat(file)).mode! & 0o077, 0, "private");
      assert.equal(seen[0].target, "secretsmanager.GetSecretValue");
      assert.match(
        seen[0].auth,
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/secretsmanager\/aws4_request/,
      );

      const missing = await run({
        ETH_STATS_REDIS_PASS_SECRET_ARN:
          "arn:aws:secretsmanager:eu-west-1:123456789012:secret:nope-XyZ",
      });
      assert.equal(missing.success, false);
      assert.equal(new TextDecoder().decode(missing.stdout), "", "not run");
      assert.match(
        new TextDecoder().decode(missing.stderr),
        /cannot read ETH_STATS_REDIS_PASS_SECRET_ARN/,
      );

      const none = await run({});
      assert.ok(none.success, "without secrets it only runs the program");
      assert.equal(new TextDecoder().decode(none.stdout), "");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
