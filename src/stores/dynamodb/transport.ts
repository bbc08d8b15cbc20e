/**
 * The narrow transport under the DynamoDB store: the operations it uses, in DynamoDB's wire JSON
 * (AttributeValues such as `{ S: '...' }`; binary values as `Uint8Array`). Two implementations,
 * picked by the client the user passes: an AWS SDK v3 `DynamoDBClient`, or an `@aws-lite/client`
 * instance (about half the client CPU per call). Neither package is imported unless used.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ConfigError } from '../../core/errors.js';

export type Operation =
  | 'GetItem'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'Query'
  | 'Scan'
  | 'BatchWriteItem'
  | 'CreateTable'
  | 'DescribeTable'
  | 'UpdateTimeToLive'
  | 'DescribeTimeToLive'
  | 'UpdateTable';

/** One DynamoDB AttributeValue as the store writes and reads it. */
export type AttributeValue =
  | { S: string }
  | { N: string }
  | { B: Uint8Array }
  | { BOOL: boolean }
  | { NULL: true }
  | { M: Item }
  | { L: AttributeValue[] }
  | { SS: string[] }
  | { NS: string[] }
  | { BS: Uint8Array[] };

export type Item = Record<string, AttributeValue>;

/** Request and response bodies, as DynamoDB's JSON API has them. */
export type Payload = Record<string, any>;

export interface Transport {
  /** `aws-sdk-v3` or `aws-lite`: shown in messages and benchmarks. */
  readonly kind: string;
  call(operation: Operation, input: Payload): Promise<Payload>;
  /**
   * The engine's clock: the HTTP `Date` header (1 s resolution) of one `operation` call's
   * response, an error response included. Not on the request path: the store clock calls it
   * once a minute.
   */
  serverDate(operation: Operation, input: Payload): Promise<number>;
  /** Closes the client when the store created it. */
  close(): void;
}

/** The parts of an AWS SDK v3 `DynamoDBClient` the store touches. */
export interface SdkV3Client {
  send(command: unknown): Promise<any>;
  destroy(): void;
  config: unknown;
}

/** An `@aws-lite/client` instance: callable with a raw request. */
export type AwsLiteClient = ((request: {
  service: string;
  endpoint?: string;
  headers?: Record<string, string>;
  awsjson?: boolean;
  payload?: Record<string, any>;
}) => Promise<{ statusCode: number; payload: any }>) & { DynamoDB?: unknown; config?: AwsLiteConfig };

/** The settings an `@aws-lite/client` instance exposes as `config`. */
interface AwsLiteConfig {
  region?: string;
  host?: string;
  port?: number;
  protocol?: string;
  pathPrefix?: string;
}

/** Settings for the SDK v3 client the store builds itself (and closes on `close()`). */
export interface DynamoDBClientConfig {
  /**
   * AWS Region.
   * @default process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION
   */
  region?: string;
  /** Endpoint URL, e.g. `http://127.0.0.1:8000` for a local engine. @default the Region's endpoint */
  endpoint?: string;
  /** Credentials; omit to use the SDK's default provider chain (env, profile, instance role...). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * Attempts per call, first included, before `StoreUnavailableError`.
   * @default 3 (the SDK's default for DynamoDB)
   */
  maxAttempts?: number;
  /**
   * The SDK's retry mode: `standard` (backoff with jitter) or `adaptive` (adds client-side rate
   * limiting; best with one client per throttled table).
   * @default 'standard'
   */
  retryMode?: 'standard' | 'adaptive';
  /**
   * Time limit of one HTTP attempt in ms (0 = none).
   * @default 3000
   */
  timeoutMs?: number;
}

export function isSdkV3Client(client: unknown): client is SdkV3Client {
  return (
    typeof client === 'object' &&
    client !== null &&
    typeof (client as SdkV3Client).send === 'function' &&
    typeof (client as { middlewareStack?: unknown }).middlewareStack === 'object'
  );
}

export function isAwsLiteClient(client: unknown): client is AwsLiteClient {
  return typeof client === 'function';
}

type SdkModule = Record<string, any>;
let sdkModule: Promise<SdkModule> | undefined;

function loadSdk(): Promise<SdkModule> {
  const name = '@aws-sdk/client-dynamodb';
  sdkModule ??= import(name).catch((err: unknown) => {
    sdkModule = undefined;
    throw new ConfigError(
      'clientConfig',
      'building a DynamoDB client needs `@aws-sdk/client-dynamodb`: npm install @aws-sdk/client-dynamodb (or pass an @aws-lite/client instance as `client`)',
      { scope: 'dynamodb', cause: err },
    );
  }) as Promise<SdkModule>;
  return sdkModule;
}

/** AWS SDK v3: sends the low-level commands; items are wire-format AttributeValues already. */
export class SdkV3Transport implements Transport {
  readonly kind = 'aws-sdk-v3';
  readonly #client: SdkV3Client | Promise<SdkV3Client>;
  readonly #owned: boolean;
  #closed = false;

  constructor(client: SdkV3Client | Promise<SdkV3Client>, owned: boolean) {
    this.#client = client;
    this.#owned = owned;
  }

  async call(operation: Operation, input: Payload): Promise<Payload> {
    const sdk = await loadSdk();
    const Command = sdk[`${operation}Command`] as new (input: Payload) => unknown;
    const client = await this.#client;
    return client.send(new Command(input));
  }

  async serverDate(operation: Operation, input: Payload): Promise<number> {
    const sdk = await loadSdk();
    const Command = sdk[`${operation}Command`] as new (
      input: Payload,
    ) => {
      middlewareStack: { add(middleware: unknown, options: Record<string, unknown>): void };
    };
    const command = new Command(input);
    let date: unknown;
    // On this one command, never on the user's client: inside the deserializer (priority low),
    // so it sees the raw response, an error response included.
    command.middlewareStack.add(
      (next: (args: unknown) => Promise<{ response?: { headers?: Record<string, string> } }>) =>
        async (args: unknown) => {
          const out = await next(args);
          date = out.response?.headers?.date ?? date;
          return out;
        },
      { step: 'deserialize', priority: 'low', name: 'batonServerDate' },
    );
    const client = await this.#client;
    try {
      await client.send(command);
    } catch (err) {
      if (date === undefined) throw err;
    }
    return parseDateHeader(date);
  }

  close(): void {
    if (!this.#owned || this.#closed) return;
    this.#closed = true;
    void Promise.resolve(this.#client).then(
      (client) => client.destroy(),
      () => {},
    );
  }
}

/**
 * Builds the store's own SDK v3 client, tuned for many small calls: a static endpoint (no
 * endpoint rules evaluated per call), checksums only where the API requires them, and
 * keep-alive sockets.
 */
export async function createSdkV3Client(config: DynamoDBClientConfig): Promise<SdkV3Client> {
  const sdk = await loadSdk();
  const region = config.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const endpoint = config.endpoint ?? (region ? regionalEndpoint(region) : undefined);
  const keepAlive = { keepAlive: true, maxSockets: 64 };
  const options: Record<string, unknown> = {
    // No checksum work unless an operation requires it. Today's DynamoDB operations have no
    // checksum trait, so this changes nothing measurable (docs/benchmarks.md); it keeps a
    // future SDK from adding work per call.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      httpAgent: new HttpAgent(keepAlive),
      httpsAgent: new HttpsAgent(keepAlive),
      requestTimeout: config.timeoutMs ?? 3000,
      // A TCP connect that takes this long means the endpoint is unreachable.
      connectionTimeout: 3000,
    },
  };
  if (region !== undefined) options.region = region;
  if (endpoint !== undefined) options.endpoint = endpoint;
  if (config.credentials !== undefined) options.credentials = config.credentials;
  if (config.maxAttempts !== undefined) options.maxAttempts = config.maxAttempts;
  if (config.retryMode !== undefined) options.retryMode = config.retryMode;
  const Client = sdk.DynamoDBClient as new (options: unknown) => SdkV3Client;
  return new Client(options);
}

function regionalEndpoint(region: string): string {
  return region.startsWith('cn-')
    ? `https://dynamodb.${region}.amazonaws.com.cn`
    : `https://dynamodb.${region}.amazonaws.com`;
}

/** `@aws-lite/client`: raw DynamoDB JSON requests, binary values base64 on the wire. */
export class AwsLiteTransport implements Transport {
  readonly kind = 'aws-lite';
  readonly #client: AwsLiteClient;
  /** The client's endpoint as a URL, passed with every request (see `awsLiteEndpoint`). */
  readonly #endpoint: string | undefined;

  constructor(client: AwsLiteClient) {
    this.#client = client;
    this.#endpoint = awsLiteEndpoint(client.config);
  }

  async call(operation: Operation, input: Payload): Promise<Payload> {
    try {
      const response = await this.#client({
        service: 'dynamodb',
        ...(this.#endpoint === undefined ? {} : { endpoint: this.#endpoint }),
        headers: {
          'X-Amz-Target': `DynamoDB_20120810.${operation}`,
          'content-type': 'application/x-amz-json-1.0',
        },
        // Our payload is wire JSON already: no marshalling by aws-lite.
        awsjson: false,
        payload: (CARRIES_VALUES.has(operation) ? toWire(input) : input) as Payload,
      });
      return fromWire(response.payload ?? {}) as Payload;
    } catch (err) {
      if (err !== null && typeof err === 'object') {
        const e = err as Record<string, unknown>;
        // aws-lite names errors after the full `__type` (`com.amazonaws...#ConditionalCheckFailedException`).
        for (const field of ['name', 'code'] as const) {
          const value = e[field];
          if (typeof value === 'string' && value.includes('#')) e[field] = value.split('#').pop();
        }
        if (e.Item !== undefined) e.Item = fromWire(e.Item);
      }
      throw err;
    }
  }

  async serverDate(operation: Operation, input: Payload): Promise<number> {
    let headers: unknown;
    try {
      const response = (await this.#client({
        service: 'dynamodb',
        ...(this.#endpoint === undefined ? {} : { endpoint: this.#endpoint }),
        headers: {
          'X-Amz-Target': `DynamoDB_20120810.${operation}`,
          'content-type': 'application/x-amz-json-1.0',
        },
        awsjson: false,
        payload: toWire(input) as Payload,
      })) as { headers?: unknown };
      headers = response.headers;
    } catch (err) {
      // An error answer (throttled, access denied) still carries the engine's Date header.
      headers = (err as { headers?: unknown } | null)?.headers;
      if (headers === undefined) throw err;
    }
    return parseDateHeader((headers as Record<string, unknown> | undefined)?.date);
  }

  close(): void {}
}

/**
 * The endpoint an `@aws-lite/client` instance sends DynamoDB requests to, as a URL. Without one in
 * the request, aws-lite works out the host by parsing `new URL(undefined)` on every call, which
 * throws (a stack trace captured) and is caught: about 5 µs per call. The URL names the same place:
 * the client's configured host, port, protocol and path prefix, or DynamoDB's Regional host where
 * none is set (the host aws-lite's signer would pick).
 */
export function awsLiteEndpoint(config: AwsLiteConfig | undefined): string | undefined {
  if (!config) return undefined;
  const host = config.host ?? (config.region ? `dynamodb.${config.region}.amazonaws.com` : undefined);
  if (!host || /[/?#@\s]/.test(host)) return undefined;
  const protocol = config.protocol ?? 'https:';
  if (protocol !== 'https:' && protocol !== 'http:') return undefined;
  const port = config.port ? `:${config.port}` : '';
  return `${protocol}//${host}${port}${config.pathPrefix ?? ''}`;
}

/** An HTTP `Date` header (`Thu, 26 Nov 2026 09:30:00 GMT`), in ms since the epoch. */
function parseDateHeader(value: unknown): number {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw new Error(`no usable Date header in the response (${String(value)})`);
  return ms;
}

/**
 * The operations whose requests can carry binary values (compressed data is written as `B`):
 * the others (reads by key, queries, table management) go out without the walk below.
 */
const CARRIES_VALUES: ReadonlySet<Operation> = new Set<Operation>([
  'PutItem',
  'UpdateItem',
  'BatchWriteItem',
]);

/**
 * Binary values: `Uint8Array` in the store, base64 text in the JSON body. Most requests carry none
 * (binary appears only with compression): those go out as they are, without a copy.
 */
function toWire(value: unknown): unknown {
  return hasBinary(value) ? wireCopy(value) : value;
}

function hasBinary(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (value instanceof Uint8Array) return true;
  if (Array.isArray(value)) {
    for (const v of value) if (hasBinary(v)) return true;
    return false;
  }
  for (const k in value) if (hasBinary((value as Record<string, unknown>)[k])) return true;
  return false;
}

function wireCopy(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(wireCopy);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    // Defined, not assigned: a data key named `__proto__` stays a key.
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, {
        value: wireCopy(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

/**
 * Decodes `B` / `BS` values (base64 text) to bytes, in place: the value is a freshly parsed reply
 * that nothing else holds.
 */
function fromWire(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (const v of value) fromWire(v);
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const k in record) {
    const v = record[k];
    if (k === 'B' && typeof v === 'string') record[k] = Buffer.from(v, 'base64');
    else if (k === 'BS' && Array.isArray(v))
      record[k] = v.map((b) => (typeof b === 'string' ? Buffer.from(b, 'base64') : b));
    else fromWire(v);
  }
  return value;
}

/** What the store needs to know of a failed call, whichever client raised it. */
export interface CallFailure {
  /** AWS error name (`ConditionalCheckFailedException`, `ThrottlingException`...) or a network code. */
  name: string;
  message: string;
  status?: number;
  /** With `ReturnValuesOnConditionCheckFailure: ALL_OLD`, the item that failed the condition. */
  item?: Item;
}

export function describeFailure(err: unknown): CallFailure {
  if (err === null || typeof err !== 'object') return { name: 'Error', message: String(err) };
  const e = err as Record<string, any>;
  let name = typeof e.name === 'string' && e.name !== 'Error' ? e.name : undefined;
  if (typeof e.code === 'string' && (name === undefined || name === 'Error')) name = e.code;
  if (typeof e.__type === 'string' && name === undefined) name = e.__type.split('#').pop();
  const message = typeof e.message === 'string' ? e.message : String(err);
  // aws-lite reports network errors by message only (`connect ECONNREFUSED 127.0.0.1:8000`).
  name ??= /\b(E[A-Z]{3,})\b/.exec(message)?.[1];
  const failure: CallFailure = { name: name ?? 'Error', message };
  const status = e.$metadata?.httpStatusCode ?? e.statusCode;
  if (typeof status === 'number') failure.status = status;
  if (e.Item !== null && typeof e.Item === 'object') failure.item = e.Item as Item;
  return failure;
}
