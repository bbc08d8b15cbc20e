/**
 * The store's edge: every DynamoDB call goes through `Table.send`, which refuses calls after
 * `close()`, asks for the consumed capacity, reports it and the attempts, and turns failures into
 * ours (`failures.ts`). Also the transport the options ask for.
 */
import { ConfigError, isBatonError } from '../../core/errors.js';
import { type ClockOption, resolveClockOptions, SyncedClock } from '../clock.js';
import { reportAttempts, reportsNothing, storeClosed } from '../kit/index.js';
import { itemSize } from './codec.js';
import { type ConditionFailed, failureOf, sdkAttempts } from './failures.js';
import type { DynamoDBStoreOptions, Layout } from './options.js';
import {
  type AttributeValue,
  awsLiteTransport,
  createSdkV3Client,
  type Item,
  isAwsLiteClient,
  isSdkV3Client,
  type Operation,
  type Payload,
  sdkV3Transport,
  type Transport,
} from './transport.js';

export type Report = (units: number) => void;

/** One table, through one transport. */
export class Table {
  readonly name = 'dynamodb';
  #closed = false;
  /** DynamoDB's clock: every expiry decision and every `:now` in a condition. */
  readonly clock: SyncedClock;

  constructor(
    readonly tableName: string,
    readonly layout: Layout,
    readonly transport: Transport,
    clock: ClockOption | undefined,
  ) {
    this.clock = new SyncedClock(() => this.serverTime(), {
      ...resolveClockOptions(clock, 'dynamodb'),
      resolutionMs: 1000,
      scope: 'dynamodb',
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.transport.close();
  }

  /** DynamoDB's clock: the `Date` header of a `DescribeTable` response (1 s resolution). */
  async serverTime(): Promise<number> {
    if (this.#closed) throw storeClosed(this.name);
    return this.transport.serverDate('DescribeTable', { TableName: this.tableName });
  }

  /** The `Key` of the item under `key`. */
  key(key: string): Item {
    return { [this.layout.hashKey]: { S: key } };
  }

  async send(
    operation: Operation,
    input: Payload,
    report: Report,
    handleValidation = false,
  ): Promise<Payload> {
    if (this.#closed) throw storeClosed(this.name);
    let out: Payload;
    try {
      // Capacity is asked for only when someone is told of it (an operation listener, a trace).
      out = await this.transport.call(
        operation,
        reportsNothing(report) ? input : { ...input, ReturnConsumedCapacity: 'TOTAL' },
      );
    } catch (err) {
      reportAttempts(report, sdkAttempts(err));
      if (isBatonError(err)) throw err;
      throw failureOf(this.tableName, operation, err, report, handleValidation);
    }
    reportAttempts(report, sdkAttempts(out));
    const consumed = out.ConsumedCapacity;
    if (Array.isArray(consumed)) {
      for (const c of consumed) if (typeof c?.CapacityUnits === 'number') report(c.CapacityUnits);
    } else if (typeof consumed?.CapacityUnits === 'number') {
      report(consumed.CapacityUnits);
    }
    return out;
  }

  /** A consistent read of the raw item, for decisions after a failed condition. */
  async read(key: string, report: Report): Promise<Item | undefined> {
    const out = await this.send(
      'GetItem',
      { TableName: this.tableName, Key: this.key(key), ConsistentRead: true },
      report,
    );
    return out.Item as Item | undefined;
  }

  /** The item a refused write met: the one returned with the failure (ALL_OLD), or read now. */
  async conditionItem(key: string, failed: ConditionFailed, report: Report): Promise<Item | undefined> {
    // DynamoDB returns the item with the failure (ALL_OLD); engines that do not, get one more read.
    const item = failed.item ?? (await this.read(key, report));
    // A refused write still costs write units: about the item's size in 1 KB units (1 when
    // missing). Reported as an estimate when the error did not say, so lock contention shows.
    if (!failed.charged) report(item ? Math.ceil(itemSize(item) / 1024) : 1);
    return item;
  }
}

export const n = (value: number): AttributeValue => ({ N: String(value) });
export const s = (value: string): AttributeValue => ({ S: value });

/** The transport for the client the options name (or build). */
export function makeTransport(options: DynamoDBStoreOptions): Transport {
  const { client, clientConfig } = options;
  if (client !== undefined && clientConfig !== undefined) {
    throw new ConfigError('clientConfig', 'give either `client` or `clientConfig`, not both', {
      scope: 'dynamodb',
    });
  }
  if (client !== undefined) {
    if (isSdkV3Client(client)) return sdkV3Transport(client, false, options.transport);
    if (isAwsLiteClient(client)) return awsLiteTransport(client, options.transport);
    throw new ConfigError(
      'client',
      'must be an AWS SDK v3 DynamoDBClient or an @aws-lite/client instance (a DynamoDBDocumentClient or SDK v2 client will not do)',
      { scope: 'dynamodb' },
    );
  }
  if (clientConfig === undefined) {
    throw new ConfigError('client', 'pass a DynamoDBClient as `client`, or `clientConfig: { region }`', {
      scope: 'dynamodb',
    });
  }
  if (typeof clientConfig !== 'object' || clientConfig === null) {
    throw new ConfigError('clientConfig', 'must be an object ({ region, endpoint, credentials, ... })', {
      scope: 'dynamodb',
    });
  }
  const { maxAttempts, retryMode, timeoutMs, endpoint, region } = clientConfig;
  if (maxAttempts !== undefined && (!Number.isInteger(maxAttempts) || maxAttempts < 1)) {
    throw new ConfigError(
      'clientConfig.maxAttempts',
      `must be a whole number from 1, got ${String(maxAttempts)}`,
      {
        scope: 'dynamodb',
      },
    );
  }
  if (retryMode !== undefined && retryMode !== 'standard' && retryMode !== 'adaptive') {
    throw new ConfigError('clientConfig.retryMode', "must be 'standard' or 'adaptive'", {
      scope: 'dynamodb',
    });
  }
  if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs < 0)) {
    throw new ConfigError('clientConfig.timeoutMs', 'must be a whole number of ms (0 = no limit)', {
      scope: 'dynamodb',
    });
  }
  if (endpoint !== undefined && (typeof endpoint !== 'string' || !URL.canParse(endpoint))) {
    throw new ConfigError('clientConfig.endpoint', `must be a URL, got ${JSON.stringify(endpoint)}`, {
      scope: 'dynamodb',
    });
  }
  if (region === undefined && !process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION) {
    throw new ConfigError('clientConfig.region', 'is required (or set AWS_REGION)', { scope: 'dynamodb' });
  }
  const pending = createSdkV3Client(clientConfig);
  // A failure here (no SDK installed) surfaces on the first call, not as an unhandled rejection.
  pending.catch(() => {});
  return sdkV3Transport(pending, true, options.transport);
}
