import { DOCUMENT, template } from "./_fixtures.ts";

let block = 21_000_000n;

Deno.bench({ name: "render a document", group: "template" }, () => {
  template.render(block++);
});

Deno.bench({
  name: "parse (verify) a document",
  group: "template",
  baseline: true,
}, () => {
  if (template.parse(DOCUMENT) === undefined) throw new Error("rejected");
});

Deno.bench({ name: "parse (reject) a near miss", group: "template" }, () => {
  if (template.parse(DOCUMENT + " ") !== undefined) throw new Error("taken");
});
