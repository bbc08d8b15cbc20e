/**
 * Walking the whole table: `scan` (admin listings) and `gc` (deleting expired items where the
 * engine's TTL deleter is absent or late), both over a parallel Scan that always paginates.
 */
import { ConfigError, StoreUnavailableError } from '../../core/errors.js';
import type { GcOptions, ScanOptions, SessionSummary } from '../../core/store.js';
import { type OperationReporter, sleep, summarize } from '../kit/index.js';
import type { Report, Table } from './client.js';
import { ATTR, str } from './codec.js';
import type { Names, Values } from './expressions.js';
import { ConditionFailed } from './failures.js';
import { decode, isLive } from './item.js';
import type { AttributeValue, Item, Payload } from './transport.js';

// BatchWriteItem takes at most 25 items.
const BATCH_LIMIT = 25;

export interface Sweep {
  readonly table: Table;
  readonly ops: OperationReporter;
  /** Parallel segments of the Scan. */
  readonly segments: number;
  readonly consistentRead: boolean;
}

/** Every live session (or every one, with `includeExpired`), without its data; never a lock item. */
export async function* scanSessions(sweep: Sweep, options: ScanOptions): AsyncIterable<SessionSummary> {
  const { table } = sweep;
  let seen = 0;
  for await (const items of pages(sweep, 'scan', {})) {
    const now = table.clock.now();
    for (const item of items) {
      if (options.limit !== undefined && seen >= options.limit) return;
      const key = str(item, table.layout.hashKey);
      if (key === undefined || item[ATTR.lockItem] !== undefined) continue;
      if (!options.includeExpired && !isLive(table.layout, item, now)) continue;
      seen++;
      yield summarize(key, decode(table.layout, item));
    }
  }
}

/** A parallel Scan (`segments` segments), one page of every unfinished segment per round. */
async function* pages(
  sweep: Sweep,
  op: string,
  extra: Payload,
  report?: Report,
  onPage?: (out: Payload) => void,
): AsyncGenerator<Item[]> {
  const { table } = sweep;
  const cursors: Array<{ segment: number; start?: Item; done: boolean }> = Array.from(
    { length: sweep.segments },
    (_, segment) => ({ segment, done: false }),
  );
  while (cursors.some((c) => !c.done)) {
    const found = await Promise.all(
      cursors
        .filter((c) => !c.done)
        .map(async (c) => {
          const input: Payload = {
            TableName: table.tableName,
            ConsistentRead: sweep.consistentRead,
            Segment: c.segment,
            TotalSegments: sweep.segments,
            ...extra,
          };
          if (c.start) input.ExclusiveStartKey = c.start;
          const out = report
            ? await table.send('Scan', input, report)
            : await sweep.ops.measure(op, (r) => table.send('Scan', input, r));
          onPage?.(out);
          c.start = out.LastEvaluatedKey as Item | undefined;
          c.done = c.start === undefined;
          return (out.Items ?? []) as Item[];
        }),
    );
    for (const page of found) yield page;
  }
}

/**
 * Deletes every item with an expiry passed (baton's own or the TTL attribute, as `isLive`; lock
 * items an hour after their lock expired), at most `rate` capacity units per second.
 */
export async function collect(
  sweep: Sweep,
  options: GcOptions,
  report: Report,
): Promise<{ deleted: number; scanned: number }> {
  const { table } = sweep;
  const rate = options.rate;
  if (rate !== undefined && (typeof rate !== 'number' || !(rate > 0))) {
    throw new ConfigError('rate', 'must be a positive number of capacity units per second', {
      scope: table.name,
    });
  }
  const started = Date.now();
  let units = 0;
  let scanned = 0;
  let deleted = 0;
  const count = (u: number) => {
    units += u;
    report(u);
  };
  // Keeps the average at or under `rate` capacity units per second.
  const pace = async () => {
    if (rate === undefined) return;
    const due = started + (units / rate) * 1000 - Date.now();
    if (due > 0) await sleep(due);
  };
  const now = table.clock.now();
  const names: Names = {
    '#id': table.layout.hashKey,
    '#xms': ATTR.expiresMs,
    '#exp': table.layout.ttl,
    '#lki': ATTR.lockItem,
  };
  const values: Values = { ':now': { N: String(now) }, ':nowS': { N: String(now / 1000) } };
  const filter = {
    // Eventually consistent: half the read units, and an item missed now is caught next time.
    ConsistentRead: false,
    // Any expiry passed (as isLive): baton's own or the TTL attribute.
    FilterExpression: '#xms <= :now OR #exp <= :nowS',
    ProjectionExpression: '#id, #lki',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
  for await (const items of pages(sweep, 'gc', filter, count, (out) => {
    scanned += Number(out.ScannedCount ?? 0);
  })) {
    const keys: AttributeValue[] = [];
    for (const item of items) {
      const key = item[table.layout.hashKey];
      if (key === undefined) continue;
      if (item[ATTR.lockItem] === undefined) keys.push(key);
      else if (options.dryRun || (await deleteLockItem(table, key, now, count))) deleted++;
    }
    for (let i = 0; i < keys.length; i += BATCH_LIMIT) {
      const chunk = keys.slice(i, i + BATCH_LIMIT);
      if (!options.dryRun) await deleteBatch(table, chunk, count, pace);
      deleted += chunk.length;
      options.onProgress?.({ scanned, deleted, capacityUnits: units });
    }
    if (keys.length === 0) options.onProgress?.({ scanned, deleted, capacityUnits: units });
    await pace();
  }
  return { deleted, scanned };
}

/**
 * A lock item is taken again by the next lock of its session, which no session write does to an
 * expired session: so it is deleted by a condition (still expired), never by a batch that could
 * remove a lock taken since the scan. Few exist: one per session locked in the last hour or so.
 */
async function deleteLockItem(
  table: Table,
  key: AttributeValue,
  now: number,
  report: Report,
): Promise<boolean> {
  try {
    await table.send(
      'DeleteItem',
      {
        TableName: table.tableName,
        Key: { [table.layout.hashKey]: key },
        ConditionExpression: '#exp <= :nowS',
        ExpressionAttributeNames: { '#exp': table.layout.ttl },
        ExpressionAttributeValues: { ':nowS': { N: String(now / 1000) } },
      },
      report,
    );
    return true;
  } catch (err) {
    if (err instanceof ConditionFailed) return false;
    throw err;
  }
}

/** One BatchWriteItem of deletes; unprocessed items are sent again with backoff. */
async function deleteBatch(
  table: Table,
  keys: AttributeValue[],
  report: Report,
  pace: () => Promise<void>,
): Promise<void> {
  let requests: Payload[] = keys.map((k) => ({ DeleteRequest: { Key: { [table.layout.hashKey]: k } } }));
  for (let attempt = 0; requests.length > 0; attempt++) {
    if (attempt > 0) await sleep(Math.min(50 * 2 ** attempt, 5_000) * (0.5 + Math.random() / 2));
    if (attempt > 12) {
      throw new StoreUnavailableError(
        `gc: DynamoDB left ${requests.length} deletes unprocessed after ${attempt} tries (throttled); run gc again with a lower rate`,
        { scope: table.name },
      );
    }
    await pace();
    const out = await table.send('BatchWriteItem', { RequestItems: { [table.tableName]: requests } }, report);
    requests = (out.UnprocessedItems?.[table.tableName] ?? []) as Payload[];
  }
}
