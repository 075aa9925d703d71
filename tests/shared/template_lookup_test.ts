import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import {
  BlockTemplate,
  DEFAULT_TEMPLATE_PATH,
  defaultTemplateCandidates,
  findDefaultTemplate,
  TemplateError,
} from "../../lib/shared/template.ts";
import { INCLUDES, ROOT } from "../../scripts/compile.ts";

const SOURCE = await Deno.readTextFile(DEFAULT_TEMPLATE_PATH);

/**
 * Lays out a directory the way a program sees its files: `lib/template.ts`
 * plus, optionally, `templates/block.eta` at the same relative path (a
 * source checkout, or the embedded file system of a compiled binary), and a
 * `bin/` directory holding the executable, optionally with a template beside
 * it.
 */
async function layout(
  { embedded, beside }: { embedded: boolean; beside: boolean },
) {
  const dir = await Deno.makeTempDir({ prefix: "eth_t_template_" });
  await Deno.mkdir(join(dir, "app", "lib"), { recursive: true });
  await Deno.mkdir(join(dir, "bin"), { recursive: true });
  if (embedded) {
    await Deno.mkdir(join(dir, "app", "templates"));
    await Deno.writeTextFile(
      join(dir, "app", "templates", "block.eta"),
      SOURCE,
    );
  }
  if (beside) {
    await Deno.mkdir(join(dir, "bin", "templates"));
    await Deno.writeTextFile(
      join(dir, "bin", "templates", "block.eta"),
      "<b><%= it.block %></b>",
    );
  }
  return {
    dir,
    moduleUrl:
      pathToFileURL(join(dir, "app", "lib", "shared", "template.ts")).href,
    execPath: join(dir, "bin", "eth-client"),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("run from source, the default template is the one in templates/", async () => {
  assert.equal(defaultTemplateCandidates()[0], DEFAULT_TEMPLATE_PATH);
  assert.equal(await findDefaultTemplate(), DEFAULT_TEMPLATE_PATH);
  const t = await BlockTemplate.load();
  assert.equal(t.render(5000000n).length, 453);
});

Deno.test("an embedded templates/ next to the module wins over one beside the binary", async () => {
  await using l = await layout({ embedded: true, beside: true });
  const found = await findDefaultTemplate(l);
  assert.equal(found, join(l.dir, "app", "templates", "block.eta"));
  const t = await BlockTemplate.load(found);
  assert.equal(t.parse(t.render(21000000n)), 21000000n);
});

Deno.test("without an embedded template, templates/ beside the binary is used", async () => {
  await using l = await layout({ embedded: false, beside: true });
  const found = await findDefaultTemplate(l);
  assert.equal(found, join(l.dir, "bin", "templates", "block.eta"));
  assert.equal((await BlockTemplate.load(found)).render(7n), "<b>7</b>");
});

Deno.test("no template anywhere is one clear error naming every place looked at", async () => {
  await using l = await layout({ embedded: false, beside: false });
  await assert.rejects(findDefaultTemplate(l), (e: unknown) => {
    assert.ok(e instanceof TemplateError);
    assert.ok(e.message.includes(join(l.dir, "app", "templates", "block.eta")));
    assert.ok(e.message.includes(join(l.dir, "bin", "templates", "block.eta")));
    assert.match(e.message, /--template FILE/);
    assert.match(e.message, /deno task compile/);
    return true;
  });
});

Deno.test("a module loaded from a non-file URL only looks beside the binary", () => {
  assert.deepEqual(
    defaultTemplateCandidates({
      moduleUrl: "https://example.com/lib/shared/template.ts",
      execPath: "/opt/eth/eth-server",
    }),
    ["/opt/eth/templates/block.eta"],
  );
});

Deno.test("deno task compile embeds the directory the lookup reads from", () => {
  // `--include` keeps paths relative to the project root, the root of the
  // binary's embedded file system, so the module-relative lookup finds it.
  const rel = relative(ROOT, DEFAULT_TEMPLATE_PATH).split(/[\\/]/);
  assert.deepEqual(rel, ["templates", "block.eta"]);
  assert.ok(INCLUDES.includes(rel[0]), `${rel[0]} is not in ${INCLUDES}`);
});
