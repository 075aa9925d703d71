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

const verbatim = template.verbatim!;
const printedPrefix = verbatim.prefix.replaceAll("\n", "\\n");
const printedSuffix = verbatim.suffix.replaceAll("\n", "\\n");

Deno.bench({
  name: "in-place payload check (match bytes, hash, line)",
  group: "verify",
}, () => {
  const digits = template.matchBytes(DOCUMENT_BYTES);
  if (digits === undefined) throw new Error("rejected");
  BigInt(digits);
  const payload = verbatim.prefix + digits + verbatim.suffix;
  sha256Hex(DOCUMENT_BYTES);
  const line = "DATA - 127.0.0.1:54321 - " + printedPrefix + digits +
    printedSuffix;
  if (line.length < payload.length) throw new Error("short");
});

Deno.bench({ name: "match bytes only", group: "verify" }, () => {
  if (template.matchBytes(DOCUMENT_BYTES) === undefined) {
    throw new Error("rejected");
  }
});
