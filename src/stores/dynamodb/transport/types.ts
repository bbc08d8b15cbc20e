/**
 * The transport's vocabulary: the operations the store sends, DynamoDB's wire values, and the
 * client shapes it accepts. Types only.
 */

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
  /** `lean`, `aws-sdk-v3` or `aws-lite`: shown in messages and benchmarks. */
  readonly kind: string;
  call(operation: Operation, input: Payload): Promise<Payload>;
  /**
   * The engine's clock: the HTTP `Date` header (1 s resolution) of one `operation` call's
   * response, an error response included. Not on the request path: the store clock calls it
   * once a minute.
   */
  serverDate(operation: Operation, input: Payload): Promise<number>;
  /** Closes the client when the store created it, and the transport's own sockets. */
  close(): void;
}

/**
 * How the store sends its calls when it has an AWS SDK v3 `DynamoDBClient` (given as `client`, or
 * built from `clientConfig`):
 * - `'lean'`: the client's resolved settings (Region, endpoint as the SDK resolves it, credential
 *   provider, SigV4 signer, retry strategy and `maxAttempts`, agents and timeouts) drive baton's
 *   own HTTP requests in DynamoDB's JSON protocol: about a third of the client CPU per call of
 *   `client.send()`. The client's middleware stack does not run (no custom middleware, X-Ray, SDK
 *   logger or user-agent additions).
 * - `'sdk'`: every call goes through `client.send()`, middleware included.
 * An `@aws-lite/client` always sends through aws-lite.
 * @default 'lean'
 */
export type TransportChoice = 'lean' | 'sdk';

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
export interface AwsLiteConfig {
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
