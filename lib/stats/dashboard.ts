/**
 * The dashboard's files, compiled into the program (text imports) so it
 * needs no CDN, no file access at run time and nothing but itself to serve
 * them. The page runs under a Content-Security-Policy that allows only its
 * own script, style and API.
 *
 * @module
 */
import INDEX_HTML from "./dashboard/index.html" with { type: "text" };
import APP_JS from "./dashboard/app.js" with { type: "text" };
import APP_CSS from "./dashboard/app.css" with { type: "text" };
import ICON_SVG from "./dashboard/icon.svg" with { type: "text" };

/** The page's policy: its own files and API only, no inline code. */
export const DASHBOARD_CSP: string = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

function asset(body: string, type: string): () => Response {
  return () =>
    new Response(body, {
      headers: {
        "content-type": type,
        "content-security-policy": DASHBOARD_CSP,
        "x-content-type-options": "nosniff",
        "cache-control": "no-cache",
        "referrer-policy": "no-referrer",
      },
    });
}

/** Route path to a function answering it. */
export const DASHBOARD_ASSETS: Readonly<Record<string, () => Response>> = {
  "/dashboard": asset(INDEX_HTML, "text/html; charset=utf-8"),
  "/dashboard/app.js": asset(APP_JS, "text/javascript; charset=utf-8"),
  "/dashboard/app.css": asset(APP_CSS, "text/css; charset=utf-8"),
  "/dashboard/icon.svg": asset(ICON_SVG, "image/svg+xml"),
};
