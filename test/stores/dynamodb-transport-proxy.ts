/**
 * A DynamoDB stand-in's front door for the transport tests: an HTTP server on loopback that checks
 * each request's SigV4 signature (recomputed with `@smithy/signature-v4` from the secret of the
 * access key it names, as DynamoDB does; the engines behind do not check), refuses keys past
 * their expiry, can inject faults (an error answer, an HTTP 500 after the engine ran the request,
 * a connection dropped before or after), and forwards everything else to the engine.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';

export interface Key {
  secretAccessKey: string;
  sessionToken?: string;
  /** Requests signed with this key after this time (ms) are refused as expired. */
  refuseAfter?: number;
}

export type Fault =
  | { kind: 'answer'; status: number; type: string; message: string }
  | { kind: 'after'; status: number; type: string }
  | { kind: 'drop-before' }
  | { kind: 'drop-after' };

export interface Attempt {
  operation: string;
  accessKeyId: string | undefined;
  refused?: string;
}

/** `crypto`-backed `Checksum` for the signer. */
export class Sha256 {
  readonly #hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {}
}

function bytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** The `Authorization` header `@smithy/signature-v4` gives a request. */
export async function expectedAuthorization(
  req: { path: string; headers: Record<string, string>; body: string },
  key: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  region: string,
  signingDate: Date,
): Promise<string> {
  const signer = new SignatureV4({
    credentials: key,
    region,
    service: 'dynamodb',
    sha256: Sha256,
    applyChecksum: 'x-amz-content-sha256' in req.headers,
  });
  const [hostname, port] = String(req.headers.host).split(':');
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: hostname ?? '',
      ...(port === undefined ? {} : { port: Number(port) }),
      path: req.path,
      query: {},
      headers: req.headers,
      body: req.body,
    },
    { signingDate },
  );
  return String(signed.headers.authorization);
}

export class SigningProxy {
  readonly keys = new Map<string, Key>();
  readonly attempts: Attempt[] = [];
  /** Requests as received (signed headers only), for the signature comparison. */
  readonly received: Array<{
    path: string;
    headers: Record<string, string>;
    body: string;
    authorization: string;
  }> = [];
  /** Faults for the next attempts of an operation, taken in order. */
  readonly faults = new Map<string, Fault[]>();
  readonly #server: Server;
  readonly #target: URL;
  endpoint = '';

  constructor(
    engineEndpoint: string,
    readonly region = 'us-east-1',
  ) {
    this.#target = new URL(engineEndpoint);
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  refused(): Attempt[] {
    return this.attempts.filter((a) => a.refused !== undefined);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    const auth = String(req.headers.authorization ?? '');
    const accessKeyId = /Credential=([^/]+)\//.exec(auth)?.[1];
    const attempt: Attempt = { operation, accessKeyId };
    this.attempts.push(attempt);
    const refusal = await this.#check(req, body, auth, accessKeyId);
    if (refusal !== undefined) {
      attempt.refused = refusal.type;
      return answer(res, 400, refusal.type, refusal.message);
    }
    const fault = this.faults.get(operation)?.shift();
    if (fault?.kind === 'answer') return answer(res, fault.status, fault.type, fault.message);
    if (fault?.kind === 'drop-before') return void req.socket.destroy();
    const reply = await this.#forward(req, body);
    if (fault?.kind === 'drop-after') return void req.socket.destroy();
    if (fault?.kind === 'after')
      return answer(res, fault.status, fault.type, 'injected: after the engine ran it');
    res.writeHead(reply.status, reply.headers);
    res.end(reply.body);
  }

  async #check(
    req: IncomingMessage,
    body: string,
    auth: string,
    accessKeyId: string | undefined,
  ): Promise<{ type: string; message: string } | undefined> {
    const key = accessKeyId === undefined ? undefined : this.keys.get(accessKeyId);
    if (key === undefined) return { type: 'UnrecognizedClientException', message: 'unknown access key' };
    if (key.refuseAfter !== undefined && Date.now() > key.refuseAfter) {
      return {
        type: 'ExpiredTokenException',
        message: 'The security token included in the request is expired',
      };
    }
    if (key.sessionToken !== undefined && req.headers['x-amz-security-token'] !== key.sessionToken) {
      return { type: 'UnrecognizedClientException', message: 'session token missing or wrong' };
    }
    const signedNames = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
    const headers: Record<string, string> = {};
    for (const name of signedNames) headers[name] = String(req.headers[name] ?? '');
    this.received.push({ path: req.url ?? '/', headers, body, authorization: auth });
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
    if (!m) return { type: 'IncompleteSignatureException', message: 'no X-Amz-Date' };
    const date = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
    const expected = await expectedAuthorization(
      { path: req.url ?? '/', headers, body },
      { accessKeyId: accessKeyId as string, ...key },
      this.region,
      date,
    );
    if (expected !== auth) return { type: 'InvalidSignatureException', message: 'signature does not match' };
    return undefined;
  }

  #forward(
    req: IncomingMessage,
    body: string,
  ): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    return new Promise((resolve, reject) => {
      const out = request(
        {
          hostname: this.#target.hostname,
          port: this.#target.port,
          path: req.url,
          method: 'POST',
          headers: { ...req.headers, host: this.#target.host },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers)) {
              if (typeof v === 'string' && k !== 'content-length' && k !== 'connection') headers[k] = v;
            }
            resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
          });
        },
      );
      out.on('error', reject);
      out.end(body);
    });
  }
}

function answer(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', date: new Date().toUTCString() });
  res.end(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message }));
}
