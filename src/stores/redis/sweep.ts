/**
 * The Redis store's reads across sessions: a user's sessions (`listByUser`), every session
 * (`scan`) and the pruning of user indexes (`gc`). Redis deletes expired hashes itself; the user
 * indexes (one sorted set per user, scored by absolute expiry) are repaired as they are read.
 */
import type { GcOptions, ScanOptions, SessionSummary } from '../../core/store.js';
import { sleep } from '../kit/index.js';
import type { RedisCommands } from './commands.js';
import type { RedisConnection } from './connection.js';
import { globEscape, SUMMARY_FIELDS, summaryOf } from './hash.js';
import { USER_ADD } from './scripts.js';

/** What the sweeps need of the store. */
export interface SweepContext {
  readonly connection: RedisConnection;
  readonly prefix: string;
  readonly scanCount: number;
  /** The store's clock (ms since the epoch). */
  now(): number;
  hashKey(key: string): string;
  userKey(userId: string): string;
}

/** The session key in a hash's Redis key (`<prefix>{<key>}`). */
export function sessionKey(prefix: string, redisKey: string): string {
  return redisKey.slice(prefix.length + 1, -1);
}

/** Adds a session to its user's index, dropping entries past their absolute expiry. */
export function addToUser(
  ctx: SweepContext,
  redis: RedisCommands,
  userId: string,
  absoluteExpiresAt: string,
  key: string,
): Promise<unknown> {
  return ctx.connection.eval(redis, USER_ADD, ctx.userKey(userId), [
    String(ctx.now()),
    absoluteExpiresAt,
    key,
  ]);
}

/** The live sessions in a user's index; entries whose session is gone or moved are removed. */
export async function listByUser(
  ctx: SweepContext,
  redis: RedisCommands,
  userId: string,
): Promise<SessionSummary[]> {
  const { connection } = ctx;
  const userKey = ctx.userKey(userId);
  const now = String(ctx.now());
  const [members] = await Promise.all([
    connection.send(redis, ['ZRANGEBYSCORE', userKey, `(${now}`, '+inf']),
    connection.send(redis, ['ZREMRANGEBYSCORE', userKey, '-inf', now]),
  ]);
  const keys = (members as unknown[]).map(String);
  const summaries = await Promise.all(keys.map((k) => summary(ctx, redis, k)));
  const out: SessionSummary[] = [];
  const stale: string[] = [];
  summaries.forEach((s, i) => {
    if (s && s.userId === userId) out.push(s);
    else stale.push(keys[i] as string);
  });
  if (stale.length > 0) await connection.send(redis, ['ZREM', userKey, ...stale]);
  return out;
}

/** Every session's summary, one SCAN page at a time. */
export async function* scanSessions(ctx: SweepContext, options: ScanOptions): AsyncIterable<SessionSummary> {
  const { connection } = ctx;
  const redis = await connection.guard(() => connection.ready());
  let n = 0;
  const pattern = `${globEscape(ctx.prefix)}{*`;
  for await (const batch of scanKeys(ctx, redis, pattern)) {
    const summaries = await connection.guard(() =>
      Promise.all(batch.map((k) => summary(ctx, redis, sessionKey(ctx.prefix, k), options.includeExpired))),
    );
    for (const s of summaries) {
      if (!s) continue;
      if (options.limit !== undefined && n >= options.limit) return;
      n++;
      yield s;
    }
  }
}

/** Removes user-index entries whose session is gone (expired, destroyed, or moved to another user). */
export async function pruneUserIndexes(
  ctx: SweepContext,
  redis: RedisCommands,
  options: GcOptions,
): Promise<{ deleted: number; scanned: number }> {
  let scanned = 0;
  let deleted = 0;
  const rate = options.rate;
  const started = Date.now();
  const pattern = `${globEscape(ctx.prefix)}u:*`;
  for await (const batch of scanKeys(ctx, redis, pattern)) {
    for (const userKey of batch) {
      const userId = userKey.slice(ctx.prefix.length + 2);
      const members = ((await ctx.connection.send(redis, ['ZRANGE', userKey, '0', '-1'])) as unknown[]).map(
        String,
      );
      scanned += members.length;
      const summaries = await Promise.all(members.map((k) => summary(ctx, redis, k)));
      const stale = members.filter((_, i) => summaries[i]?.userId !== userId);
      if (stale.length === 0) continue;
      deleted += stale.length;
      if (!options.dryRun) await ctx.connection.send(redis, ['ZREM', userKey, ...stale]);
      options.onProgress?.({ scanned, deleted });
      if (rate !== undefined && rate > 0) {
        const due = started + (deleted / rate) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
      }
    }
  }
  options.onProgress?.({ scanned, deleted });
  return { deleted, scanned };
}

async function summary(
  ctx: SweepContext,
  redis: RedisCommands,
  key: string,
  includeExpired = false,
): Promise<SessionSummary | null> {
  const reply = (await ctx.connection.send(redis, ['HMGET', ctx.hashKey(key), ...SUMMARY_FIELDS])) as (
    | string
    | null
  )[];
  return summaryOf(key, reply, ctx.now(), includeExpired);
}

/** SCAN every data node (every master on Cluster), yielding one page of keys at a time. */
async function* scanKeys(ctx: SweepContext, redis: RedisCommands, pattern: string): AsyncIterable<string[]> {
  const { connection } = ctx;
  const nodes = await connection.guard(() => redis.nodes());
  for (const node of nodes) {
    let cursor = '0';
    do {
      const reply = (await connection.guard(() =>
        connection.timeout(node(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(ctx.scanCount)])),
      )) as [unknown, unknown[]];
      cursor = String(reply[0]);
      const keys = reply[1].map(String);
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }
}
