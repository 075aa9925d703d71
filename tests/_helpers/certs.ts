/**
 * Throwaway TLS material for tests, made with `openssl` in a temporary
 * directory at test time, so no key is ever committed.
 */

/** A private CA, a server certificate it signed, and an unrelated CA. */
export interface TestCerts extends AsyncDisposable {
  /** The temporary directory holding every file. */
  dir: string;
  /** PEM file of the CA that signed the server certificate. */
  caFile: string;
  /** PEM file of the server certificate (for 127.0.0.1, ::1, localhost). */
  certFile: string;
  /** PEM file of the server's private key. */
  keyFile: string;
  /** PEM file of a CA that signed nothing here. */
  otherCaFile: string;
  /** Contents of `caFile`. */
  caPem: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** Makes a CA, a server certificate and a second CA (P-256, valid 2 days). */
export async function makeCerts(): Promise<TestCerts> {
  const dir = await Deno.makeTempDir({ prefix: "eth_tls_" });
  try {
    for (const name of ["ca", "other_ca"]) {
      await openssl([
        "req",
        "-x509",
        ...EC,
        "-days",
        "2",
        "-subj",
        `/CN=eth test ${name}`,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.crt`,
      ], dir);
    }
    await openssl([
      "req",
      ...EC,
      "-subj",
      "/CN=localhost",
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
    ], dir);
    await Deno.writeTextFile(
      `${dir}/server.ext`,
      [
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
        "basicConstraints=CA:FALSE",
        "keyUsage=digitalSignature",
        "extendedKeyUsage=serverAuth",
        "",
      ].join("\n"),
    );
    await openssl([
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      "server.ext",
      "-out",
      "server.crt",
    ], dir);
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  return {
    dir,
    caFile: `${dir}/ca.crt`,
    certFile: `${dir}/server.crt`,
    keyFile: `${dir}/server.key`,
    otherCaFile: `${dir}/other_ca.crt`,
    caPem: await Deno.readTextFile(`${dir}/ca.crt`),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}
