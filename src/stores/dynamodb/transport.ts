/**
 * The narrow transport under the DynamoDB store: the operations it uses, in DynamoDB's wire JSON
 * (AttributeValues such as `{ S: '...' }`; binary values as `Uint8Array`). Picked by what the user
 * passes (see `TransportChoice`):
 * - an AWS SDK v3 `DynamoDBClient`, or `clientConfig` (the store builds the client): the lean path
 *   (transport/lean.ts) driven by the client's resolved settings, or `transport: 'sdk'` to send
 *   through `client.send()`;
 * - an `@aws-lite/client` instance: aws-lite.
 * No AWS package is imported unless used.
 */
import { ConfigError } from '../../core/errors.js';
import { AwsLiteTransport } from './transport/aws-lite.js';
import { LeanTransport } from './transport/lean.js';
import { SdkV3Transport } from './transport/sdk.js';
import type { AwsLiteClient, SdkV3Client, Transport, TransportChoice } from './transport/types.js';

export { AwsLiteTransport, awsLiteEndpoint } from './transport/aws-lite.js';
export { type CallFailure, describeFailure } from './transport/failure.js';
export { LeanTransport } from './transport/lean.js';
export { createSdkV3Client, SdkV3Transport } from './transport/sdk.js';
export type {
  AttributeValue,
  AwsLiteClient,
  DynamoDBClientConfig,
  Item,
  Operation,
  Payload,
  SdkV3Client,
  Transport,
  TransportChoice,
} from './transport/types.js';

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

function checkChoice(choice: unknown): asserts choice is TransportChoice | undefined {
  if (choice !== undefined && choice !== 'lean' && choice !== 'sdk') {
    throw new ConfigError('transport', `must be 'lean' or 'sdk', got ${JSON.stringify(choice)}`, {
      scope: 'dynamodb',
    });
  }
}

/**
 * The transport for an SDK v3 client: lean unless `choice` is `'sdk'`. `owned`: the store built
 * the client and closes it.
 */
export function sdkV3Transport(
  client: SdkV3Client | Promise<SdkV3Client>,
  owned: boolean,
  choice: TransportChoice | undefined,
): Transport {
  checkChoice(choice);
  return choice === 'sdk' ? new SdkV3Transport(client, owned) : new LeanTransport(client, owned);
}

/** The transport for an `@aws-lite/client`, which always sends through aws-lite. */
export function awsLiteTransport(client: AwsLiteClient, choice: TransportChoice | undefined): Transport {
  checkChoice(choice);
  if (choice === 'sdk') {
    throw new ConfigError(
      'transport',
      "`'sdk'` needs an AWS SDK v3 DynamoDBClient; this client is aws-lite",
      {
        scope: 'dynamodb',
      },
    );
  }
  return new AwsLiteTransport(client);
}
