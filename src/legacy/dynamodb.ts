/**
 * The two express-session stores for DynamoDB:
 * - connect-dynamodb: item `{ [hashKey]: S prefix+sid, expires: N (seconds), sess: S (JSON) }`,
 *   defaults table `sessions`, hashKey `id`, prefix `sess:`.
 * - dynamodb-store: item `{ [hashKey]: S prefix+sid, expires: N (seconds), sess: M (the session
 *   as a DynamoDB map, plus its own `updated` field) }`, defaults table `sessions`, hashKey
 *   `sessionId`, prefix `sess:`.
 * Both are read through the client the user passes: an AWS SDK v3 `DynamoDBClient` or an
 * `@aws-lite/client`.
 */
import { ConfigError } from '../core/errors.js';
import type { LegacyRecord, LegacySource } from '../core/legacy.js';
import {
  type AttributeValue,
  AwsLiteTransport,
  type Item,
  isAwsLiteClient,
  isSdkV3Client,
  SdkV3Transport,
  type Transport,
} from '../stores/dynamodb/transport.js';

export interface ConnectDynamoDBOptions {
  /** An AWS SDK v3 `DynamoDBClient` or an `@aws-lite/client` (with its DynamoDB plugin). Stays open. */
  client: unknown;
  /** @default 'sessions' */
  table?: string;
  /** @default 'sess:' */
  prefix?: string;
  /** @default 'id' */
  hashKey?: string;
}

export interface DynamodbStoreOptions {
  /** An AWS SDK v3 `DynamoDBClient` or an `@aws-lite/client` (with its DynamoDB plugin). Stays open. */
  client: unknown;
  /** dynamodb-store's `table.name`. @default 'sessions' */
  table?: string;
  /** dynamodb-store's `table.hashKey`. @default 'sessionId' */
  hashKey?: string;
  /** dynamodb-store's `table.hashPrefix`. @default 'sess:' */
  prefix?: string;
}

/** A DynamoDB AttributeValue as plain JSON (what DynamoDB's DocumentClient gives back). */
export function fromAttribute(value: AttributeValue): unknown {
  if ('S' in value) return value.S;
  if ('N' in value) return Number(value.N);
  if ('BOOL' in value) return value.BOOL;
  if ('NULL' in value) return null;
  if ('M' in value) return fromItem(value.M);
  if ('L' in value) return value.L.map(fromAttribute);
  if ('SS' in value) return [...value.SS];
  if ('NS' in value) return value.NS.map(Number);
  if ('B' in value) return Buffer.from(value.B).toString('base64');
  return value.BS.map((b) => Buffer.from(b).toString('base64'));
}

function fromItem(item: Item): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) {
    Object.defineProperty(out, k, {
      value: fromAttribute(v),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function transportFor(client: unknown): Transport {
  if (isSdkV3Client(client)) return new SdkV3Transport(client, false);
  if (isAwsLiteClient(client)) return new AwsLiteTransport(client);
  throw new ConfigError('client', 'pass an AWS SDK v3 DynamoDBClient or an @aws-lite/client', {
    scope: 'legacy',
  });
}

function name(option: string, value: unknown, fallback: string): string {
  const v = value ?? fallback;
  if (typeof v !== 'string')
    throw new ConfigError(option, `must be a string, got ${String(value)}`, { scope: 'legacy' });
  return v;
}

interface Layout {
  name: string;
  table: string;
  hashKey: string;
  prefix: string;
  /** The session object of a live item. */
  session(item: Item): Record<string, unknown> | null;
}

/** Scan pages: 1 MB each at most (DynamoDB's limit); this many items asked for per page. */
const SCAN_PAGE = 500;

function dynamoSource(
  transport: Transport,
  layout: Layout,
): LegacySource & { readonly transport: Transport } {
  const { table, hashKey, prefix } = layout;
  return {
    name: layout.name,
    transport,
    async get(legacyId: string): Promise<LegacyRecord | null> {
      const out = await transport.call('GetItem', {
        TableName: table,
        Key: { [hashKey]: { S: prefix + legacyId } },
        ConsistentRead: true,
      });
      const item = out.Item as Item | undefined;
      const expires = item?.expires && 'N' in item.expires ? Number(item.expires.N) : Number.NaN;
      // Both peers treat an item at or past `expires` (seconds), or without one, as gone.
      if (!item || !(expires * 1000 > Date.now())) return null;
      const data = layout.session(item);
      return data ? { data, expiresAt: expires * 1000 } : null;
    },
    async destroy(legacyId: string): Promise<void> {
      await transport.call('DeleteItem', { TableName: table, Key: { [hashKey]: { S: prefix + legacyId } } });
    },
    async *ids(): AsyncIterable<string> {
      let start: Item | undefined;
      do {
        const out = await transport.call('Scan', {
          TableName: table,
          ProjectionExpression: '#k',
          FilterExpression: 'begins_with(#k, :p)',
          ExpressionAttributeNames: { '#k': hashKey },
          ExpressionAttributeValues: { ':p': { S: prefix } },
          Limit: SCAN_PAGE,
          ...(start ? { ExclusiveStartKey: start } : {}),
        });
        for (const item of (out.Items ?? []) as Item[]) {
          const key = item[hashKey];
          if (key && 'S' in key) yield key.S.slice(prefix.length);
        }
        start = out.LastEvaluatedKey as Item | undefined;
      } while (start);
    },
  };
}

/** Reads express-session's sessions where connect-dynamodb stored them. */
export function connectDynamoDB(options: ConnectDynamoDBOptions): LegacySource {
  return dynamoSource(transportFor(options?.client), {
    name: 'connect-dynamodb',
    table: name('table', options.table, 'sessions'),
    hashKey: name('hashKey', options.hashKey, 'id'),
    prefix: name('prefix', options.prefix, 'sess:'),
    session(item) {
      const sess = item.sess;
      if (!sess || !('S' in sess)) return null;
      const data: unknown = JSON.parse(sess.S);
      return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : null;
    },
  });
}

/** Reads express-session's sessions where dynamodb-store stored them. */
export function dynamodbStore(options: DynamodbStoreOptions): LegacySource {
  return dynamoSource(transportFor(options?.client), {
    name: 'dynamodb-store',
    table: name('table', options.table, 'sessions'),
    hashKey: name('hashKey', options.hashKey, 'sessionId'),
    prefix: name('prefix', options.prefix, 'sess:'),
    session(item) {
      const sess = item.sess;
      if (!sess || !('M' in sess)) return null;
      const data = fromItem(sess.M);
      // dynamodb-store's own bookkeeping (when it last wrote), not the app's.
      delete data.updated;
      return data;
    },
  });
}
