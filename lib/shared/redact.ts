/**
 * What an RPC endpoint's address and answers may put in a log line. An
 * endpoint URL often carries an API key (in the path, the query or the user
 * info), so only its origin is ever written; text an endpoint sends is
 * untrusted, so its control characters are escaped (no forged log lines, no
 * terminal escapes) and it is cut short.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cleanText, redactUrl } from "./redact.ts";
 *
 * assert.equal(redactUrl("https://user:pw@node.example/v3/k3y?apikey=1"), "https://node.example");
 * assert.equal(cleanText("bad\nWARN forged", 300), "bad\\nWARN forged");
 * ```
 *
 * @module
 */

/** How many characters of endpoint text a log line keeps by default. */
export const MAX_LOGGED_CHARS = 300;

/**
 * An endpoint URL as logs show it: `scheme://host[:port]`, without user
 * info, path or query, any of which may hold a key. Text that is not a URL
 * is returned as `<not a URL>`.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "<not a URL>";
  }
}

/** Redacts every http(s)/ws(s) URL quoted in `text` (e.g. an error). */
export function redactUrlsIn(text: string): string {
  return text.replace(
    /\b(?:https?|wss?):\/\/[^\s)"']+/gi,
    (url) => redactUrl(url),
  );
}

// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const ESCAPES: Record<string, string> = {
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/**
 * Makes text an endpoint sent safe for one log line: control characters
 * become escapes (`\n`, `\u001b`), and text longer than `max` characters
 * is cut, saying how much was left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cleanText } from "./redact.ts";
 *
 * assert.equal(cleanText("\u001b[31mred"), "\\u001b[31mred");
 * assert.equal(cleanText("x".repeat(12), 5), "xxxxx… (7 more characters)");
 * ```
 */
export function cleanText(
  text: string,
  max: number = MAX_LOGGED_CHARS,
): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  const clean = cut.replace(
    CONTROL,
    (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return text.length > max
    ? `${clean}… (${text.length - max} more characters)`
    : clean;
}
