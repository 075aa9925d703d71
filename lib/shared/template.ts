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
