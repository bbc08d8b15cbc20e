/**
 * Memcached's atomic primitive: gets → decide → cas, until the cas lands. Every write to an
 * existing session goes through `casUpdate`, so two writers never overwrite each other.
 */
import { SessionTooLargeError, StoreUnavailableError } from '../../core/errors.js';
import { clampExpiry, isLive, sleep } from '../kit/index.js';
import { type MemcachedClient, NAME } from './options.js';
import { decodeRecord, encodeRecord, exptime, type SessionRecord } from './record.js';

/** memcache-client rejects these replies as errors; they are outcomes, not failures. */
const OUTCOMES = new Set(['NOT_STORED', 'EXISTS', 'NOT_FOUND']);

/** Memcached refuses items over its item size (-I, 1 MiB by default), key and header included. */
const ITEM_OVERHEAD = 300;

/** What a CAS step decides: write this record (or nothing), and answer this. */
export type Step<T> = { write?: SessionRecord; result: T };

export interface CasContext {
  client: MemcachedClient;
  itemKey: string;
  now: () => number;
  casRetries: number;
  itemSizeLimit: number;
}

/**
 * gets → decide → cas, until the cas lands. `step` sees the live record (or null) and says
 * what to write; a record changed in between (EXISTS) or deleted (NOT_FOUND) is read again.
 */
export async function casUpdate<T>(
  ctx: CasContext,
  step: (record: SessionRecord | null) => Step<T>,
): Promise<T> {
  const { client, itemKey } = ctx;
  for (let attempt = 0; attempt < ctx.casRetries; attempt++) {
    const current = await client.gets(itemKey);
    const record = current === undefined ? null : liveRecord(current.value, ctx.now());
    const decided = step(record);
    if (!decided.write || current === undefined) return decided.result;
    const value = encodeItem(decided.write, ctx.itemSizeLimit);
    const lifetime = lifetimeOf(decided.write, ctx.now());
    if (await outcome(client.cas(itemKey, value, { lifetime, casUniq: current.casUniq }))) {
      return decided.result;
    }
    await backoff(attempt);
  }
  throw contended(ctx.casRetries);
}

/**
 * Stores a new session: `add`, or, over an item past its expiry that Memcached (whole seconds)
 * has not dropped yet, `cas`. False when a live session is there.
 */
export async function casCreate(ctx: CasContext, record: SessionRecord): Promise<boolean> {
  const { client, itemKey } = ctx;
  const value = encodeItem(record, ctx.itemSizeLimit);
  for (let attempt = 0; attempt < ctx.casRetries; attempt++) {
    if (await outcome(client.add(itemKey, value, { lifetime: lifetimeOf(record, ctx.now()) }))) return true;
    const current = await client.gets(itemKey);
    if (current === undefined) continue;
    if (liveRecord(current.value, ctx.now())) return false;
    const replaced = client.cas(itemKey, value, {
      lifetime: lifetimeOf(record, ctx.now()),
      casUniq: current.casUniq,
    });
    if (await outcome(replaced)) return true;
    await backoff(attempt);
  }
  throw contended(ctx.casRetries);
}

/** The record in an item when it is one of ours and live, else null. */
export function liveRecord(value: unknown, now: number): SessionRecord | null {
  if (typeof value !== 'string') return null;
  const record = decodeRecord(value);
  return record && isLive(record.session, now) ? record : null;
}

/** true when a store command was applied, false on NOT_STORED / EXISTS / NOT_FOUND. */
export async function outcome(command: Promise<unknown>): Promise<boolean> {
  try {
    await command;
    return true;
  } catch (err) {
    if (OUTCOMES.has((err as Error)?.message)) return false;
    throw err;
  }
}

function encodeItem(record: SessionRecord, itemSizeLimit: number): string {
  const value = encodeRecord(record);
  const bytes = Buffer.byteLength(value);
  if (bytes + ITEM_OVERHEAD > itemSizeLimit) {
    throw new SessionTooLargeError(bytes, itemSizeLimit - ITEM_OVERHEAD, { scope: NAME });
  }
  return value;
}

function lifetimeOf(record: SessionRecord, now: number): number {
  const s = record.session;
  return exptime(clampExpiry(s.expiresAt, s.absoluteExpiresAt), now);
}

function contended(casRetries: number): StoreUnavailableError {
  return new StoreUnavailableError(
    `the session changed under ${casRetries} compare-and-swap attempts in a row (casRetries); try again`,
    { scope: NAME },
  );
}

/** A pause that grows with the attempt, jittered so contenders spread out. */
function backoff(attempt: number): Promise<void> {
  return sleep(Math.random() * Math.min(2 ** attempt, 50));
}
