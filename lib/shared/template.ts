/**
 * The block document: rendering it from an Eta template, and recognising a
 * received payload as a rendering of that template (SPEC 1.1).
 *
 * @module
 */
import { Eta } from "eta";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Largest block number a document may carry (the range of a `uint64`). */
export const MAX_BLOCK = 2n ** 64n - 1n;

/** The template shipped with the project, resolved next to this module. */
export const DEFAULT_TEMPLATE_PATH: string = fileURLToPath(
  new URL("../../templates/block.eta", import.meta.url),
);

/** Where {@linkcode findDefaultTemplate} looks; injectable for tests. */
export interface TemplateLookupOptions {
  /** URL of this module (default `import.meta.url`). */
  moduleUrl?: string;
  /** Path of the running executable (default `Deno.execPath()`). */
  execPath?: string;
}

/**
 * The places the default template may be, in order: next to this module
 * (a source checkout; in a binary from `deno task compile`, `import.meta.url`
 * points into the binary's embedded file system, where `--include templates`
 * put the file at the same relative path), then `templates/block.eta` beside
 * the executable, for a binary built without the template embedded.
 */
export function defaultTemplateCandidates(
  options: TemplateLookupOptions = {},
): string[] {
  const moduleUrl = options.moduleUrl ?? import.meta.url;
  const candidates: string[] = [];
  if (moduleUrl.startsWith("file:")) {
    candidates.push(
      fileURLToPath(new URL("../../templates/block.eta", moduleUrl)),
    );
  }
  let execPath = options.execPath;
  if (execPath === undefined) {
    try {
      execPath = Deno.execPath();
    } catch {
      // Without read permission only the embedded/source copy is looked at.
    }
  }
  if (execPath !== undefined) {
    const beside = join(dirname(execPath), "templates", "block.eta");
    if (!candidates.includes(beside)) candidates.push(beside);
  }
  return candidates;
}

/**
 * Returns the first of {@linkcode defaultTemplateCandidates} that is a
 * readable file, or throws a {@linkcode TemplateError} naming every place
 * looked at.
 */
export async function findDefaultTemplate(
  options: TemplateLookupOptions = {},
): Promise<string> {
  const candidates = defaultTemplateCandidates(options);
  for (const path of candidates) {
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new TemplateError(`Cannot read template ${path}`, {
          cause: error,
        });
      }
    }
  }
  throw new TemplateError(
    `Cannot find the default template: looked in ${
      candidates.join(" and ")
    }. Pass --template FILE, or build with \`deno task compile\` (it embeds templates/)`,
  );
}

/** A template that cannot be loaded or does not print the block number. */
export class TemplateError extends Error {
  /** Builds the error; `cause` is the underlying failure, if any. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TemplateError";
  }
}

// Never printed by a number, so it splits a rendering into its fixed parts.
const MARKER = "\u0000block\u0000";
const RECENT_RENDERINGS = 256;
const DIGITS = /^(0|[1-9][0-9]*)/;
// The one tag a template may hold for the in-place check: it prints the
// number and nothing else, so the rest of the source is the fixed text.
const PLAIN_BLOCK_TAG = /<%=\s*it\.block\s*%>/;
const MAX_BLOCK_DIGITS = String(MAX_BLOCK);
const utf8 = new TextEncoder();

/**
 * The fixed text around the number of a template that prints it exactly
 * once, verbatim: every rendering is `prefix + String(block) + suffix`.
 */
export interface VerbatimParts {
  /** Everything before the number. */
  readonly prefix: string;
  /** Everything after the number. */
  readonly suffix: string;
}

interface FixedBytes extends VerbatimParts {
  prefixBytes: Uint8Array;
  suffixBytes: Uint8Array;
}

/**
 * A compiled block template. `render` makes the document for a block number;
 * `parse` is its inverse, returning the block number only when the payload is
 * byte for byte what `render` makes for it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BlockTemplate } from "./template.ts";
 * const t = BlockTemplate.fromString("<p><%= it.block %></p>");
 * assert.equal(t.render(5n), "<p>5</p>");
 * assert.equal(t.parse("<p>5</p>"), 5n);
 * assert.equal(t.parse("<p>x</p>"), undefined);
 * ```
 */
export class BlockTemplate {
  readonly #render: (block: bigint | string) => string;
  readonly #prefix: string;
  readonly #recent = new Map<bigint, string>();
  readonly #fixed: FixedBytes | undefined;

  private constructor(source: string, name: string) {
    // autoTrim must stay off: the SPEC vectors keep every newline after a tag.
    const eta = new Eta({ autoTrim: false, cache: false });
    let fn;
    try {
      fn = eta.compile(source);
    } catch (cause) {
      throw new TemplateError(`Cannot compile template ${name}`, { cause });
    }
    this.#render = (block) => eta.render(fn, { block });
    const probe = this.#render(MARKER);
    const at = probe.indexOf(MARKER);
    if (at < 0) {
      throw new TemplateError(
        `Cannot use template ${name}: it never prints it.block`,
      );
    }
    this.#prefix = probe.slice(0, at);
    this.#fixed = this.#verbatim(source, probe, at);
  }

  // Only a template with no tag but one plain `<%= it.block %>` qualifies:
  // its output cannot depend on the number other than by printing it, and
  // the probes below confirm the split. Excluded, so that a byte match and
  // `parse` of the decoded text always agree: a suffix starting with a
  // digit (the digit run would not end where the suffix starts), a leading
  // BOM (the decoder drops it), text that is not well-formed UTF-16 (its
  // bytes would decode to U+FFFD).
  #verbatim(source: string, probe: string, at: number): FixedBytes | undefined {
    const tag = source.indexOf("<%");
    if (tag < 0 || source.indexOf("<%", tag + 2) >= 0) return undefined;
    if (PLAIN_BLOCK_TAG.exec(source)?.index !== tag) return undefined;
    const prefix = this.#prefix;
    const suffix = probe.slice(at + MARKER.length);
    if (/^[0-9]/.test(suffix) || prefix.startsWith("\uFEFF")) return undefined;
    if (!prefix.isWellFormed() || !suffix.isWellFormed()) return undefined;
    for (const block of [0n, 7n, 21_000_000n, MAX_BLOCK]) {
      if (this.#render(block) !== prefix + block + suffix) return undefined;
    }
    return {
      prefix,
      suffix,
      prefixBytes: utf8.encode(prefix),
      suffixBytes: utf8.encode(suffix),
    };
  }

  /**
   * The fixed text around the number when this template prints it exactly
   * once, verbatim (then {@linkcode BlockTemplate.matchBytes} works);
   * otherwise `undefined`.
   */
  get verbatim(): VerbatimParts | undefined {
    return this.#fixed;
  }

  /**
   * Recognises a payload's UTF-8 bytes in place, without decoding or
   * rendering: the block number's decimal digits when the bytes are
   * exactly a rendering of this template (then `parse` of their text
   * returns the same number), else `undefined`, which decides nothing:
   * the payload may still be a document (of a template that is not
   * {@linkcode BlockTemplate.verbatim}), so ask `parse`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { BlockTemplate } from "./template.ts";
   * const t = BlockTemplate.fromString("<p><%= it.block %></p>");
   * const bytes = (s: string) => new TextEncoder().encode(s);
   * assert.equal(t.matchBytes(bytes("<p>42</p>")), "42");
   * assert.equal(t.matchBytes(bytes("<p>042</p>")), undefined);
   * ```
   */
  matchBytes(frame: Uint8Array): string | undefined {
    const fixed = this.#fixed;
    if (fixed === undefined) return undefined;
    const prefix = fixed.prefixBytes;
    const suffix = fixed.suffixBytes;
    const start = prefix.length;
    const end = frame.length - suffix.length;
    const count = end - start;
    if (count < 1 || count > MAX_BLOCK_DIGITS.length) return undefined;
    // Canonical decimal: no leading zero unless the number is 0.
    if (frame[start] === 0x30 && count > 1) return undefined;
    let digits = "";
    for (let i = start; i < end; i++) {
      const c = frame[i];
      if (c < 0x30 || c > 0x39) return undefined;
      digits += String.fromCharCode(c);
    }
    if (count === MAX_BLOCK_DIGITS.length && digits > MAX_BLOCK_DIGITS) {
      return undefined;
    }
    for (let i = 0; i < start; i++) {
      if (frame[i] !== prefix[i]) return undefined;
    }
    for (let i = 0; i < suffix.length; i++) {
      if (frame[end + i] !== suffix[i]) return undefined;
    }
    return digits;
  }

  /** Compiles a template from its source text. */
  static fromString(source: string, name = "<string>"): BlockTemplate {
    return new BlockTemplate(source, name);
  }

  /**
   * Reads and compiles a template file; without `path`, the default one
   * found by {@linkcode findDefaultTemplate}.
   */
  static async load(path?: string): Promise<BlockTemplate> {
    path ??= await findDefaultTemplate();
    let source;
    try {
      source = await Deno.readTextFile(path);
    } catch (cause) {
      throw new TemplateError(`Cannot read template ${path}`, { cause });
    }
    return new BlockTemplate(source, path);
  }

  /** Renders the document for `block`. */
  render(block: bigint): string {
    return this.#render(block);
  }

  /**
   * Returns the block number `payload` was rendered for, or `undefined` when
   * it is not exactly a rendering of this template for a block in
   * `0..MAX_BLOCK`.
   */
  parse(payload: string): bigint | undefined {
    if (!payload.startsWith(this.#prefix)) return undefined;
    const digits = DIGITS.exec(
      payload.slice(this.#prefix.length, this.#prefix.length + 21),
    );
    if (digits === null || digits[0].length > 20) return undefined;
    const block = BigInt(digits[0]);
    if (block > MAX_BLOCK) return undefined;
    return this.#rendered(block) === payload ? block : undefined;
  }

  // A fleet sends each block many times (every client, every server): keep
  // the latest renderings instead of running the template for each copy.
  #rendered(block: bigint): string {
    let doc = this.#recent.get(block);
    if (doc === undefined) {
      if (this.#recent.size >= RECENT_RENDERINGS) this.#recent.clear();
      doc = this.#render(block);
      this.#recent.set(block, doc);
    }
    return doc;
  }
}
