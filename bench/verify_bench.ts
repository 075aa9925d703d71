import { sha256Hex } from "../lib/server/ingest.ts";
import { formatDataLine } from "../lib/server/output.ts";
import { DOCUMENT, DOCUMENT_BYTES, template } from "./_fixtures.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

Deno.bench({ name: "UTF-8 decode (fatal)", group: "verify" }, () => {
  decoder.decode(DOCUMENT_BYTES);
});

Deno.bench({ name: "SHA-256 hex of a document", group: "verify" }, () => {
  sha256Hex(DOCUMENT_BYTES);
});

Deno.bench({ name: "format the DATA line", group: "verify" }, () => {
  formatDataLine("127.0.0.1", 54321, DOCUMENT);
});

Deno.bench({
  name: "whole payload check (decode, parse, hash, line)",
  group: "verify",
  baseline: true,
}, () => {
  const text = decoder.decode(DOCUMENT_BYTES);
  if (template.parse(text) === undefined) throw new Error("rejected");
  sha256Hex(DOCUMENT_BYTES);
  formatDataLine("127.0.0.1", 54321, text);
});
