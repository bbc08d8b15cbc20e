/**
 * Table management: `ensureTable()` (create when missing, wait until ACTIVE, enable TTL, add the
 * user index) and `describe()` (what `baton doctor` shows). Nothing here runs unless asked: the
 * store's constructor never creates tables.
 */
import { ConfigError, StoreUnavailableError } from '../../core/errors.js';
import { sleep } from '../kit/index.js';
import { ATTR } from './codec.js';
import type { Operation, Payload } from './transport.js';
import { describeFailure } from './transport.js';

/** How the table is billed when `ensureTable()` creates it. */
export type BillingOptions = { mode: 'on-demand' } | { mode: 'provisioned'; read: number; write: number };

export interface TableContext {
  tableName: string;
  hashKey: string;
  ttlAttribute: string;
  userIndexName: string;
  userIndex: boolean;
  billing: BillingOptions;
  /** Sends one call as is (errors unmapped). */
  call(operation: Operation, input: Payload): Promise<Payload>;
  warn(message: string): void;
}

export interface TableDescription {
  tableName: string;
  exists: boolean;
  /** `ACTIVE`, `CREATING`, `UPDATING`... */
  status?: string;
  /** The partition key as the table has it, and whether it is the one the store is set up for. */
  hashKey?: { name: string; type: string; matches: boolean };
  /** A sort key makes the table unusable for sessions. */
  hasSortKey?: boolean;
  billingMode?: 'PAY_PER_REQUEST' | 'PROVISIONED';
  provisioned?: { read: number; write: number };
  itemCount?: number;
  sizeBytes?: number;
  ttl?: {
    /** False on engines without the TTL API (dynalite, old DynamoDB Local): run `gc()` instead. */
    supported: boolean;
    status?: string;
    attribute?: string;
    /** TTL is on, on the store's `ttlAttribute`. */
    matches: boolean;
  };
  userIndex?: { name: string; present: boolean; status?: string; keyMatches?: boolean };
}

// Keys only: DynamoDB writes an index entry again only when the user changes, not on every
// patch or touch (projected attributes would cost one more write unit per write of a
// logged-in session). `listByUser` reads each session it finds anyway.
const INDEX_PROJECTION = { ProjectionType: 'KEYS_ONLY' };

const WAIT_LIMIT_MS = 10 * 60_000;

export async function describeTable(ctx: TableContext): Promise<TableDescription> {
  const table = await describeRaw(ctx);
  if (!table) return { tableName: ctx.tableName, exists: false };
  const out = summarizeTable(ctx, table);
  out.ttl = await describeTtl(ctx);
  return out;
}

export async function ensureTable(ctx: TableContext): Promise<TableDescription> {
  let table = await describeRaw(ctx);
  if (!table) {
    await createTable(ctx);
    table = await waitActive(ctx);
  } else if (table.TableStatus !== 'ACTIVE') {
    table = await waitActive(ctx);
  }
  const summary = summarizeTable(ctx, table);
  if (summary.hasSortKey || !summary.hashKey?.matches) {
    throw new ConfigError(
      'hashKey',
      `table \`${ctx.tableName}\` has the key ${JSON.stringify(summary.hashKey?.name)} (${summary.hashKey?.type})${
        summary.hasSortKey ? ' and a sort key' : ''
      }; the store needs a partition key \`${ctx.hashKey}\` of type S and no sort key (set \`hashKey\`, or use another table)`,
      { scope: 'dynamodb' },
    );
  }
  if (ctx.userIndex && !summary.userIndex?.present) {
    await addUserIndex(ctx, table);
    table = await waitActive(ctx);
    if (!summarizeTable(ctx, table).userIndex?.present) {
      // dynalite accepts the request and adds nothing.
      ctx.warn(
        `this DynamoDB engine did not add the index \`${ctx.userIndexName}\` to the existing table \`${ctx.tableName}\`; listByUser stays unavailable until the table is created with it (on AWS, add it in the console)`,
      );
    }
  }
  const out = summarizeTable(ctx, table);
  out.ttl = await enableTtl(ctx);
  return out;
}

async function describeRaw(ctx: TableContext): Promise<Payload | undefined> {
  try {
    const out = await ctx.call('DescribeTable', { TableName: ctx.tableName });
    return out.Table as Payload;
  } catch (err) {
    if (describeFailure(err).name === 'ResourceNotFoundException') return undefined;
    throw err;
  }
}

function summarizeTable(ctx: TableContext, table: Payload): TableDescription {
  const keys = (table.KeySchema ?? []) as Array<{ AttributeName: string; KeyType: string }>;
  const types = new Map(
    ((table.AttributeDefinitions ?? []) as Array<{ AttributeName: string; AttributeType: string }>).map(
      (d) => [d.AttributeName, d.AttributeType],
    ),
  );
  const hash = keys.find((k) => k.KeyType === 'HASH');
  const out: TableDescription = {
    tableName: ctx.tableName,
    exists: true,
    status: table.TableStatus,
    hasSortKey: keys.some((k) => k.KeyType === 'RANGE'),
    billingMode: table.BillingModeSummary?.BillingMode ?? 'PROVISIONED',
    itemCount: table.ItemCount,
    sizeBytes: table.TableSizeBytes,
  };
  if (out.billingMode === 'PROVISIONED' && table.ProvisionedThroughput) {
    out.provisioned = {
      read: table.ProvisionedThroughput.ReadCapacityUnits,
      write: table.ProvisionedThroughput.WriteCapacityUnits,
    };
  }
  if (hash) {
    const type = types.get(hash.AttributeName) ?? '?';
    out.hashKey = {
      name: hash.AttributeName,
      type,
      matches: hash.AttributeName === ctx.hashKey && type === 'S',
    };
  }
  const index = ((table.GlobalSecondaryIndexes ?? []) as Payload[]).find(
    (i) => i.IndexName === ctx.userIndexName,
  );
  out.userIndex = { name: ctx.userIndexName, present: index !== undefined };
  if (index) {
    out.userIndex.status = index.IndexStatus;
    const indexHash = (index.KeySchema as Array<{ AttributeName: string; KeyType: string }>).find(
      (k) => k.KeyType === 'HASH',
    );
    out.userIndex.keyMatches = indexHash?.AttributeName === ATTR.user;
  }
  return out;
}

function throughput(billing: BillingOptions): Payload {
  return billing.mode === 'provisioned'
    ? { ProvisionedThroughput: { ReadCapacityUnits: billing.read, WriteCapacityUnits: billing.write } }
    : {};
}

async function createTable(ctx: TableContext): Promise<void> {
  const input: Payload = {
    TableName: ctx.tableName,
    KeySchema: [{ AttributeName: ctx.hashKey, KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: ctx.hashKey, AttributeType: 'S' }],
    BillingMode: ctx.billing.mode === 'provisioned' ? 'PROVISIONED' : 'PAY_PER_REQUEST',
    ...throughput(ctx.billing),
  };
  if (ctx.userIndex) {
    input.AttributeDefinitions.push({ AttributeName: ATTR.user, AttributeType: 'S' });
    input.GlobalSecondaryIndexes = [
      {
        IndexName: ctx.userIndexName,
        KeySchema: [{ AttributeName: ATTR.user, KeyType: 'HASH' }],
        Projection: INDEX_PROJECTION,
        ...throughput(ctx.billing),
      },
    ];
  }
  try {
    await ctx.call('CreateTable', input);
  } catch (err) {
    // Another instance created it at the same moment: fine, wait for it like ours.
    if (describeFailure(err).name !== 'ResourceInUseException') throw err;
  }
}

async function addUserIndex(ctx: TableContext, table: Payload): Promise<void> {
  const provisioned = (table.BillingModeSummary?.BillingMode ?? 'PROVISIONED') === 'PROVISIONED';
  const index: Payload = {
    IndexName: ctx.userIndexName,
    KeySchema: [{ AttributeName: ATTR.user, KeyType: 'HASH' }],
    Projection: INDEX_PROJECTION,
  };
  if (provisioned) {
    // A provisioned table's index needs its own throughput: start it at the table's.
    index.ProvisionedThroughput = {
      ReadCapacityUnits: table.ProvisionedThroughput?.ReadCapacityUnits ?? 1,
      WriteCapacityUnits: table.ProvisionedThroughput?.WriteCapacityUnits ?? 1,
    };
  }
  const update = () =>
    ctx.call('UpdateTable', {
      TableName: ctx.tableName,
      AttributeDefinitions: [{ AttributeName: ATTR.user, AttributeType: 'S' }],
      GlobalSecondaryIndexUpdates: [{ Create: index }],
    });
  try {
    try {
      await update();
    } catch (err) {
      // Local engines want throughput for the index even on an on-demand table; AWS refuses it there.
      const failure = describeFailure(err);
      if (provisioned || !/provisionedThroughput/i.test(failure.message)) throw err;
      index.ProvisionedThroughput = { ReadCapacityUnits: 1, WriteCapacityUnits: 1 };
      await update();
    }
  } catch (err) {
    const failure = describeFailure(err);
    // Another instance is adding it right now.
    if (failure.name === 'ResourceInUseException' || /already exists/i.test(failure.message)) return;
    throw err;
  }
}

/** Polls until the table and its indexes are ACTIVE (index backfill on a big table takes minutes). */
async function waitActive(ctx: TableContext): Promise<Payload> {
  const started = Date.now();
  let delay = 50;
  for (;;) {
    const table = await describeRaw(ctx);
    const indexes = (table?.GlobalSecondaryIndexes ?? []) as Payload[];
    if (table?.TableStatus === 'ACTIVE' && indexes.every((i) => i.IndexStatus === 'ACTIVE')) return table;
    if (Date.now() - started > WAIT_LIMIT_MS) {
      throw new StoreUnavailableError(
        `table \`${ctx.tableName}\` is not ACTIVE after ${WAIT_LIMIT_MS / 60_000} minutes (status ${table?.TableStatus ?? 'missing'}); check it in the AWS console`,
        { scope: 'dynamodb' },
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 5_000);
  }
}

async function describeTtl(ctx: TableContext): Promise<NonNullable<TableDescription['ttl']>> {
  try {
    const out = await ctx.call('DescribeTimeToLive', { TableName: ctx.tableName });
    const d = (out.TimeToLiveDescription ?? {}) as { TimeToLiveStatus?: string; AttributeName?: string };
    const ttl: NonNullable<TableDescription['ttl']> = {
      supported: true,
      matches:
        (d.TimeToLiveStatus === 'ENABLED' || d.TimeToLiveStatus === 'ENABLING') &&
        d.AttributeName === ctx.ttlAttribute,
    };
    if (d.TimeToLiveStatus !== undefined) ttl.status = d.TimeToLiveStatus;
    if (d.AttributeName !== undefined) ttl.attribute = d.AttributeName;
    return ttl;
  } catch (err) {
    if (isUnknownOperation(err)) return { supported: false, matches: false };
    throw err;
  }
}

/** Turns TTL on unless it is on (or turning on) already: a second request within the hour would fail. */
async function enableTtl(ctx: TableContext): Promise<NonNullable<TableDescription['ttl']>> {
  const ttl = await describeTtl(ctx);
  const noTtl = `this DynamoDB engine has no TTL deleter (dynalite, old DynamoDB Local): expired sessions of \`${ctx.tableName}\` stay until \`store.gc()\` or \`baton gc\` deletes them (they are never served)`;
  if (!ttl.supported) {
    ctx.warn(noTtl);
    return ttl;
  }
  if (ttl.matches) return ttl;
  if (ttl.status === 'ENABLED' || ttl.status === 'ENABLING') {
    ctx.warn(
      `table \`${ctx.tableName}\` has TTL on \`${ttl.attribute}\`, not on \`${ctx.ttlAttribute}\`: DynamoDB deletes by one attribute only; set \`ttlAttribute: '${ttl.attribute}'\` or change the table's TTL`,
    );
    return ttl;
  }
  try {
    await ctx.call('UpdateTimeToLive', {
      TableName: ctx.tableName,
      TimeToLiveSpecification: { Enabled: true, AttributeName: ctx.ttlAttribute },
    });
    return { supported: true, status: 'ENABLING', attribute: ctx.ttlAttribute, matches: true };
  } catch (err) {
    if (isUnknownOperation(err)) {
      ctx.warn(noTtl);
      return { ...ttl, supported: false };
    }
    // A TTL change made less than an hour ago (by another instance) blocks this one; it is on its way.
    if (describeFailure(err).name === 'ValidationException') {
      ctx.warn(
        `could not enable TTL on \`${ctx.tableName}\`: ${describeFailure(err).message}; try again in an hour or enable it in the AWS console`,
      );
      return ttl;
    }
    throw err;
  }
}

function isUnknownOperation(err: unknown): boolean {
  const failure = describeFailure(err);
  return (
    failure.name === 'UnknownOperationException' ||
    /unknown ?operation|not (supported|implemented)/i.test(failure.message)
  );
}
