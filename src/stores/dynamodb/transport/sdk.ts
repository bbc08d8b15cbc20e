/**
 * The AWS SDK v3 path: `transport: 'sdk'` sends every call through `client.send()` (middleware
 * included); `createSdkV3Client` builds the store's own client from `clientConfig`, which the lean
 * path then drives. The SDK is imported only when used.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ConfigError } from '../../../core/errors.js';
import type { DynamoDBClientConfig, Operation, Payload, SdkV3Client, Transport } from './types.js';
import { parseDateHeader } from './wire.js';

export type SdkModule = Record<string, any>;
let sdkModule: Promise<SdkModule> | undefined;

export function loadSdk(): Promise<SdkModule> {
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
