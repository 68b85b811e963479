// A throw-away TLS certificate for 127.0.0.1 (openssl, P-256, one day), for the emulator's https
// variant: nothing trusts it, which is the point of the tests that use it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes a self-signed certificate and its key into `dir` and returns both as PEM buffers.
 *
 * @example
 * const amazon = await startEmulator({ port: 0, tls: selfSignedCert(mkdtempSync(join(tmpdir(), 'tls-'))) });
 */
export function selfSignedCert(dir: string): { key: Buffer; cert: Buffer } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(key), cert: readFileSync(cert) };
}
