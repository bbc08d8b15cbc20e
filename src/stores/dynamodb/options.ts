/**
 * The DynamoDB store's options: what each one means (with its default), and their validation at
 * construction, so a bad value is a `ConfigError` naming the option before any call.
 */
import { ConfigError } from '../../core/errors.js';
import type { ClockOption } from '../clock.js';
import { ATTR, type Compression } from './codec.js';
import type { BillingOptions } from './table.js';
import type { AwsLiteClient, DynamoDBClientConfig, SdkV3Client, TransportChoice } from './transport.js';

export interface DynamoDBStoreOptions {
  /** The table's name. Required. Create it with `ensureTable()` or `baton create-table`. */
  tableName: string;
  /**
   * A client to use: an AWS SDK v3 `DynamoDBClient`, or an `@aws-lite/client` instance (load the
   * `@aws-lite/dynamodb` plugin or not: the store sends raw DynamoDB JSON). It stays open on `close()`.
   * Give either this or `clientConfig`.
   */
  client?: SdkV3Client | AwsLiteClient;
  /** Settings for an SDK v3 client the store builds (tuned: static endpoint, keep-alive) and closes. */
  clientConfig?: DynamoDBClientConfig;
  /** `'lean'` (own HTTP path driven by the SDK client's settings) or `'sdk'` (`client.send()`). @default 'lean' */
  transport?: TransportChoice;
  /**
   * The table's partition key (type S).
   * @default 'id'
   */
  hashKey?: string;
  /**
   * The TTL attribute: the session's expiry in epoch seconds (the earlier of idle and absolute).
   * @default 'expires'
   */
  ttlAttribute?: string;
  /**
   * The map attribute holding one entry per top-level session key.
   * @default 'data'
   */
  dataAttribute?: string;
  /**
   * Strongly consistent reads: the next request, on any instance, sees the last write. Eventual
   * reads cost half (0.5 RCU per 4 KB) but may serve a session as it was before the last write.
   * @default true
   */
  consistentRead?: boolean;
  /**
   * The global secondary index on `uid` that `listByUser` queries.
   * @default 'uid-index'
   */
  userIndexName?: string;
  /**
   * `false`: the table has no user index; `listByUser` throws and `ensureTable()` adds none.
   * @default true
   */
  userIndex?: boolean;
  /**
   * Values of at least this many bytes of JSON are compressed (stored as binary) when that makes
   * them smaller; 0 turns compression off. Compression lowers capacity units, not the size limit.
   * @default 4096
   */
  compressAbove?: number;
  /**
   * Algorithm for large values. Either is read back whatever the setting.
   * @default 'gzip'
   */
  compression?: Compression;
  /**
   * Billing of a table `ensureTable()` creates.
   * @default { mode: 'on-demand' }
   */
  billing?: BillingOptions;
  /**
   * Parallel segments of `scan()` and `gc()`.
   * @default 4
   */
  scanSegments?: number;
  /**
   * Receives warnings such as "this engine has no TTL deleter" (each at most once per store).
   * @default the store's `logger` (set by a manager given `logger`), else process.emitWarning
   */
  onWarning?: (message: string) => void;
  /**
   * Which clock decides expiry: `'store'` reads DynamoDB's (the `Date` header of a
   * `DescribeTable` call, 1 s resolution) once a minute and corrects this machine's by the
   * difference; `'local'` uses this machine's as is. See the README.
   * @default 'store'
   */
  clock?: ClockOption;
}

/**
 * Where a session sits in the item, and how its entries are encoded: what the pure builders in
 * `expressions.ts` and `item.ts` need of the options.
 */
export interface Layout {
  readonly hashKey: string;
  readonly ttl: string;
  readonly data: string;
  readonly compressAbove: number;
  readonly compression: Compression;
}

/** The options, checked and defaulted. */
export interface ResolvedOptions {
  readonly tableName: string;
  readonly layout: Layout;
  readonly consistentRead: boolean;
  readonly userIndexName: string;
  readonly userIndex: boolean;
  readonly billing: BillingOptions;
  readonly segments: number;
  readonly onWarning: ((message: string) => void) | undefined;
}

const NAME = /^[a-zA-Z0-9_.-]{3,255}$/;

/** Checks every option (`ConfigError` naming it) and fills in the defaults. */
export function resolveOptions(options: DynamoDBStoreOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('options', 'pass an object with at least `tableName`', { scope: 'dynamodb' });
  }
  const tableName = options.tableName;
  if (typeof tableName !== 'string' || !NAME.test(tableName)) {
    throw new ConfigError(
      'tableName',
      `must be a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -), got ${JSON.stringify(tableName)}`,
      { scope: 'dynamodb' },
    );
  }
  const hashKey = attributeName('hashKey', options.hashKey ?? 'id');
  const ttl = attributeName('ttlAttribute', options.ttlAttribute ?? 'expires');
  const data = attributeName('dataAttribute', options.dataAttribute ?? 'data');
  const userIndexName = options.userIndexName ?? 'uid-index';
  if (typeof userIndexName !== 'string' || !NAME.test(userIndexName)) {
    throw new ConfigError('userIndexName', 'must be an index name (3-255 of a-z A-Z 0-9 _ . -)', {
      scope: 'dynamodb',
    });
  }
  const taken = new Set<string>(Object.values(ATTR));
  for (const [option, value] of [
    ['hashKey', hashKey],
    ['ttlAttribute', ttl],
    ['dataAttribute', data],
  ] as const) {
    if (taken.has(value)) {
      throw new ConfigError(option, `\`${value}\` is taken (by the store or another option); pick another`, {
        scope: 'dynamodb',
      });
    }
    taken.add(value);
  }
  const compressAbove = options.compressAbove ?? 4096;
  if (!Number.isInteger(compressAbove) || compressAbove < 0) {
    throw new ConfigError('compressAbove', 'must be a whole number of bytes (0 turns compression off)', {
      scope: 'dynamodb',
    });
  }
  const compression = options.compression ?? 'gzip';
  if (compression !== 'gzip' && compression !== 'brotli') {
    throw new ConfigError('compression', "must be 'gzip' or 'brotli'", { scope: 'dynamodb' });
  }
  const billing = options.billing ?? { mode: 'on-demand' };
  validateBilling(billing);
  const segments = options.scanSegments ?? 4;
  if (!Number.isInteger(segments) || segments < 1 || segments > 1_000_000) {
    throw new ConfigError('scanSegments', 'must be a whole number from 1', { scope: 'dynamodb' });
  }
  if (options.onWarning !== undefined && typeof options.onWarning !== 'function') {
    throw new ConfigError('onWarning', 'must be a function', { scope: 'dynamodb' });
  }
  return {
    tableName,
    layout: { hashKey, ttl, data, compressAbove, compression },
    consistentRead: flag('consistentRead', options.consistentRead ?? true),
    userIndexName,
    userIndex: flag('userIndex', options.userIndex ?? true),
    billing,
    segments,
    onWarning: options.onWarning,
  };
}

function attributeName(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > 255) {
    throw new ConfigError(option, `must be an attribute name (1-255 bytes), got ${JSON.stringify(value)}`, {
      scope: 'dynamodb',
    });
  }
  return value;
}

function flag(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new ConfigError(option, `must be true or false, got ${JSON.stringify(value)}`, {
      scope: 'dynamodb',
    });
  }
  return value;
}

function validateBilling(billing: BillingOptions): void {
  if (typeof billing !== 'object' || billing === null) {
    throw new ConfigError(
      'billing',
      "must be { mode: 'on-demand' } or { mode: 'provisioned', read, write }",
      {
        scope: 'dynamodb',
      },
    );
  }
  if (billing.mode === 'on-demand') return;
  if (billing.mode !== 'provisioned') {
    throw new ConfigError(
      'billing',
      `mode must be 'on-demand' or 'provisioned', got ${JSON.stringify((billing as { mode?: unknown }).mode)}`,
      {
        scope: 'dynamodb',
      },
    );
  }
  for (const unit of ['read', 'write'] as const) {
    const v = billing[unit];
    if (!Number.isInteger(v) || v < 1) {
      throw new ConfigError(
        `billing.${unit}`,
        `must be a whole number of capacity units from 1, got ${String(v)}`,
        {
          scope: 'dynamodb',
        },
      );
    }
  }
}
