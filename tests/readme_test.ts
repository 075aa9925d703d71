import assert from "node:assert/strict";
import { CLIENT_OPTIONS } from "../lib/client/options.ts";
import { SERVER_OPTIONS } from "../lib/server/options.ts";
import { STATS_OPTIONS } from "../lib/stats/options.ts";

const readme = await Deno.readTextFile(
  new URL("../README.md", import.meta.url),
);
const denoJson = JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
);

Deno.test("the README quickstart is the two commands, first", () => {
  const quickstart = readme.slice(readme.indexOf("## Quickstart"));
  const block = /```sh\n([\s\S]*?)```/.exec(quickstart)![1];
  const commands = block.trim().split("\n").map((l) => l.split("#")[0].trim());
  assert.deepEqual(commands, ["deno task demo", "deno task test"]);
});

Deno.test("every `deno task` the README names exists", () => {
  const named = new Set(
    [...readme.matchAll(/deno task ([a-z]+)/g)].map((m) => m[1]),
  );
  for (const task of named) {
    assert.ok(task in denoJson.tasks, `README names missing task ${task}`);
  }
  for (
    const task of ["client", "server", "stats", "demo", "test", "bench", "ok"]
  ) {
    assert.ok(task in denoJson.tasks, `deno.json lacks task ${task}`);
  }
});

Deno.test("the README mentions every flag of every program", () => {
  for (const specs of [CLIENT_OPTIONS, SERVER_OPTIONS, STATS_OPTIONS]) {
    for (const spec of Object.values(specs)) {
      if (spec.name === "help") continue;
      assert.ok(
        readme.includes(`--${spec.name}`),
        `README does not mention --${spec.name}`,
      );
    }
  }
});
