/** The `@aws-lite/client` transport: raw DynamoDB JSON through the user's aws-lite client. */
import type { AwsLiteClient, AwsLiteConfig, Operation, Payload, Transport } from './types.js';
import { CARRIES_VALUES, fromWire, parseDateHeader, toWire } from './wire.js';

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

  /** One aws-lite request for `operation`; the payload is wire JSON already (no marshalling by aws-lite). */
  #send(operation: Operation, payload: Payload): ReturnType<AwsLiteClient> {
    return this.#client({
      service: 'dynamodb',
      ...(this.#endpoint === undefined ? {} : { endpoint: this.#endpoint }),
      headers: {
        'X-Amz-Target': `DynamoDB_20120810.${operation}`,
        'content-type': 'application/x-amz-json-1.0',
      },
      awsjson: false,
      payload,
    });
  }

  async call(operation: Operation, input: Payload): Promise<Payload> {
    try {
      const response = await this.#send(
        operation,
        (CARRIES_VALUES.has(operation) ? toWire(input) : input) as Payload,
      );
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
      const response = (await this.#send(operation, toWire(input) as Payload)) as { headers?: unknown };
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
