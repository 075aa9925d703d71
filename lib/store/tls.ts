/**
 * What the store drivers share about TLS to a store: telling a certificate
 * that failed verification from other connection errors, so the message can
 * name the option to check.
 *
 * @module
 */

/**
 * Whether `error` says the peer's certificate was not trusted (unknown
 * issuer, self-signed, wrong name, expired), as Node's TLS reports it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isCertificateError } from "./tls.ts";
 *
 * const error = Object.assign(new Error("self-signed certificate in certificate chain"), {
 *   code: "SELF_SIGNED_CERT_IN_CHAIN",
 * });
 * assert.equal(isCertificateError(error), true);
 * assert.equal(isCertificateError(new Error("connect ECONNREFUSED")), false);
 * ```
 */
export function isCertificateError(error: unknown): boolean {
  const { code = "", message = "" } = error as {
    code?: string;
    message?: string;
  };
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HANDSHAKE_SSL/.test(
    String(code),
  ) || /certificate|UnknownIssuer|NotValidForName/i.test(String(message));
}
