/**
 * How the stats API answers: plain text as the original did, JSON for the
 * new API, each with headers that keep a browser from guessing types or
 * caching live figures.
 *
 * @module
 */

/** `text/plain` with its charset; the original's answers were all text. */
export const TEXT_TYPE = "text/plain; charset=utf-8";

/** The JSON API's content type. */
export const JSON_TYPE = "application/json; charset=utf-8";

/**
 * What a stored document is served with: it is untrusted HTML a client
 * sent, so a browser must neither sniff it into HTML nor run anything in it.
 */
export const DOCUMENT_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": "default-src 'none'",
  "x-content-type-options": "nosniff",
};

/** A plain-text answer. */
export function textResponse(
  body: string,
  { status = 200, headers = {} }: {
    status?: number;
    headers?: Record<string, string>;
  } = {},
): Response {
  return new Response(body, {
    status,
    headers: {
      "content-type": TEXT_TYPE,
      "x-content-type-options": "nosniff",
      "cache-control": "no-store",
      ...headers,
    },
  });
}

/** A JSON answer, one line plus a newline (readable in a terminal). */
export function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: {
      "content-type": JSON_TYPE,
      "x-content-type-options": "nosniff",
      "cache-control": "no-store",
    },
  });
}

/** A JSON error: `{"error": message}`. */
export function jsonError(status: number, message: string): Response {
  return jsonResponse({ error: message }, status);
}
