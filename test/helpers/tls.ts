/** A throwaway self-signed certificate for 127.0.0.1, and a client that trusts it, for https tests. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tls {
  key: string;
  cert: string;
}

let cached: Tls | undefined;

/** Made once per process with the openssl command. */
export function selfSigned(): Tls {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'baton-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    cached = {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
    return cached;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One https request trusting `ca`. */
export function httpsFetch(
  url: string,
  init: { method?: string; headers?: Record<string, string>; ca: string },
): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers, ca: init.ca }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** An http server, or an https one with `tls`: for frameworks that take a request listener. */
export function nodeServer(listener: RequestListener, tls?: Tls): Server {
  return tls ? (createHttpsServer(tls, listener) as unknown as Server) : createServer(listener);
}

/** The base URL of a listening server, with the scheme it serves. */
export function baseUrl(server: { address(): unknown }, tls?: Tls): string {
  return `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
