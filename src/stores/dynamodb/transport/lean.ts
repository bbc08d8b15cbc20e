/**
 * The lean path: baton's operations as DynamoDB JSON 1.0 POSTs (`X-Amz-Target:
 * DynamoDB_20120810.<Op>`), signed with SigV4 (by `aws4` with the SDK client's credentials, or by
 * the client's own signer), retried by its retry strategy, on keep-alive sockets. No SDK
 * middleware stack, no command objects, no schema-driven (de)serialization: the store's payloads
 * are wire JSON already.
 */
import { createHash } from 'node:crypto';
import aws4 from 'aws4';
import type { Identity } from './credentials.js';
import type { Reply } from './http.js';
import { withRetries } from './retry.js';
import { type LeanSetup, resolveSetup, type SignableRequest } from './setup.js';
import type { Operation, Payload, SdkV3Client, Transport } from './types.js';
import { CARRIES_VALUES, fromWire, parseDateHeader, toWire } from './wire.js';

const OPERATIONS: readonly Operation[] = [
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchWriteItem',
  'CreateTable',
  'DescribeTable',
  'UpdateTimeToLive',
  'DescribeTimeToLive',
  'UpdateTable',
];
/** `X-Amz-Target` per operation, built once. */
const TARGETS = new Map(OPERATIONS.map((op) => [op, `DynamoDB_20120810.${op}`]));
const target = (operation: Operation): string => TARGETS.get(operation) ?? `DynamoDB_20120810.${operation}`;

/** Errors the SDK answers by correcting its clock offset and retrying (`CLOCK_SKEW_ERROR_CODES`). */
const CLOCK_SKEW = new Set([
  'AuthFailure',
  'InvalidSignatureException',
  'RequestExpired',
  'RequestInTheFuture',
  'RequestTimeTooSkewed',
  'SignatureDoesNotMatch',
]);

export class LeanTransport implements Transport {
  readonly kind = 'lean';
  readonly #client: SdkV3Client | Promise<SdkV3Client>;
  readonly #owned: boolean;
  #setup: Promise<LeanSetup> | undefined;
  /** The settled setup, so calls after the first skip an await. */
  #ready: LeanSetup | undefined;
  #closed = false;

  constructor(client: SdkV3Client | Promise<SdkV3Client>, owned: boolean) {
    this.#client = client;
    this.#owned = owned;
  }

  async call(operation: Operation, input: Payload): Promise<Payload> {
    const setup = this.#ready ?? (await this.#prepare());
    const body = JSON.stringify(CARRIES_VALUES.has(operation) ? toWire(input) : input);
    return withRetries(setup.strategy, async () => {
      const reply = await this.#exchange(setup, operation, body);
      if (reply.status >= 300) throw serviceError(reply, setup);
      // Binary values (`B`, `BS`) come as base64 text; most replies carry none.
      const payload = reply.body === '' ? {} : (JSON.parse(reply.body) as Payload);
      if (/"BS?":/.test(reply.body)) fromWire(payload);
      return payload;
    });
  }

  async serverDate(operation: Operation, input: Payload): Promise<number> {
    const setup = this.#ready ?? (await this.#prepare());
    const reply = await this.#exchange(setup, operation, JSON.stringify(toWire(input)));
    // An error answer (throttled, access denied) still carries the engine's Date header.
    return parseDateHeader(reply.headers.date);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const setup = this.#setup;
    void setup?.then(
      (s) => s.exchange.close(),
      () => {},
    );
    if (this.#owned) {
      void Promise.resolve(this.#client).then(
        (client) => client.destroy(),
        () => {},
      );
    }
  }

  #prepare(): Promise<LeanSetup> {
    if (this.#setup === undefined) {
      this.#setup = Promise.resolve(this.#client).then(resolveSetup);
      this.#setup.then(
        (setup) => {
          this.#ready = setup;
        },
        // Tried again on the next call (a credential chain or SDK import that failed once).
        () => {
          this.#setup = undefined;
        },
      );
    }
    return this.#setup;
  }

  async #exchange(setup: LeanSetup, operation: Operation, body: string): Promise<Reply> {
    const { endpoint } = setup;
    const headers: Record<string, string> = {
      host: endpoint.host,
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': target(operation),
      'content-length': String(Buffer.byteLength(body)),
    };
    // The SDK's clock-skew correction moves the signing time, whichever signer signs.
    const signingMs = Date.now() + (setup.config.systemClockOffset ?? 0);
    if (setup.credentials !== undefined) {
      const identity = setup.credentials.get();
      const credentials = identity instanceof Promise ? await identity : identity;
      return setup.exchange.post(signAws4(setup, headers, body, signingMs, credentials), body);
    }
    const request: SignableRequest = {
      method: 'POST',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      path: endpoint.path,
      query: {},
      headers,
      body,
    };
    if (endpoint.port !== undefined) request.port = endpoint.port;
    const signed = await setup.signer.sign(request, {
      signingDate: new Date(signingMs),
      signingRegion: setup.signingRegion,
      signingService: setup.signingService,
    });
    return setup.exchange.post(signed.headers, body);
  }
}

/**
 * SigV4 by `aws4`: the headers above plus `x-amz-date`, `x-amz-content-sha256` (where the client's
 * signer adds it), `x-amz-security-token` (temporary credentials) and `Authorization`; the same signed headers and signature as the SDK's signer
 * gives for the same request, identity and time (a test compares them).
 */
function signAws4(
  setup: LeanSetup,
  headers: Record<string, string>,
  body: string,
  timeMs: number,
  credentials: Identity,
): Record<string, string> {
  headers['x-amz-date'] = amzDate(timeMs);
  if (setup.payloadHash) headers['x-amz-content-sha256'] = createHash('sha256').update(body).digest('hex');
  const signed = aws4.sign(
    {
      method: 'POST',
      host: setup.endpoint.host,
      path: setup.endpoint.path,
      service: setup.signingService,
      region: setup.signingRegion,
      headers,
      body,
    },
    credentials,
  );
  return signed.headers as Record<string, string>;
}

/** The last stamp made, and the second it is for: requests in the same second share it. */
let stampSecond = Number.NaN;
let stamp = '';

/** `20261206T120000Z`: the SigV4 time stamp (whole seconds, so one per second is enough). */
function amzDate(timeMs: number): string {
  const second = Math.floor(timeMs / 1000);
  if (second !== stampSecond) {
    const iso = new Date(second * 1000).toISOString();
    stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
    stampSecond = second;
  }
  return stamp;
}

/** An error answer as the SDK would raise it: `name` from `__type`, the body's fields, `$metadata`. */
function serviceError(reply: Reply, setup: LeanSetup): Error {
  let body: Record<string, unknown> = {};
  try {
    if (reply.body !== '') body = JSON.parse(reply.body) as Record<string, unknown>;
  } catch {
    body = {};
  }
  const type =
    typeof body.__type === 'string' ? body.__type : String(reply.headers['x-amzn-errortype'] ?? '');
  // `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException`, or `Name:http://...` in the header.
  const name =
    type.split('#').pop()?.split(':')[0] || (reply.status >= 500 ? 'InternalServerError' : 'UnknownError');
  const text = body.message ?? body.Message;
  const err = new Error(typeof text === 'string' ? text : `HTTP ${reply.status}`) as Error &
    Record<string, unknown>;
  for (const [k, v] of Object.entries(body)) {
    if (k !== '__type' && k !== 'message' && k !== 'Message' && k !== '__proto__') err[k] = v;
  }
  err.name = name;
  if (err.Item !== undefined) err.Item = fromWire(err.Item);
  err.$fault = reply.status >= 500 ? 'server' : 'client';
  const requestId = reply.headers['x-amzn-requestid'];
  err.$metadata = { httpStatusCode: reply.status, ...(typeof requestId === 'string' ? { requestId } : {}) };
  err.$response = { statusCode: reply.status, headers: reply.headers };
  if (CLOCK_SKEW.has(name)) correctClock(err, reply, setup);
  return err;
}

/**
 * As the SDK does: a request refused for a skewed clock moves the client's clock offset to the
 * server's `Date` and counts as transient, so the retry is signed with the corrected time.
 */
function correctClock(err: Record<string, unknown>, reply: Reply, setup: LeanSetup): void {
  const server = Date.parse(String(reply.headers.date ?? ''));
  if (!Number.isFinite(server)) return;
  const offset = server - Date.now();
  if (Math.abs(offset - (setup.config.systemClockOffset ?? 0)) < 300_000) return;
  setup.config.systemClockOffset = offset;
  (err.$metadata as Record<string, unknown>).clockSkewCorrected = true;
}
