/**
 * The record-level session rules, as pure functions: what a patch does to a stored session.
 * Record stores (memory, file, Memcached) apply them as they are; the engines with server-side
 * guards (DynamoDB conditions, Redis Lua, SQL statements) implement the same rules and the
 * conformance suite holds both to them.
 */
import { putOwn } from '../../core/codec.js';
import type { Patch, SessionSummary, StoredSession, StoreLimits } from '../../core/store.js';
import { lockLost, staleKeys, versionConflict } from './failures.js';
import { checkSize, dataSize, patchLimit } from './size.js';

export function summarize(key: string, s: StoredSession): SessionSummary {
  const summary: SessionSummary = {
    key,
    createdAt: s.createdAt,
    expiresAt: s.expiresAt,
    absoluteExpiresAt: s.absoluteExpiresAt,
    version: s.version,
    size: dataSize(s.data),
  };
  if (s.userId !== undefined) summary.userId = s.userId;
  return summary;
}

/** The data a patch leaves: `replace` drops what `set` does not name. */
export function applyPatchData(data: Record<string, string>, patch: Patch): Record<string, string> {
  const next: Record<string, string> = {};
  if (!patch.replace) for (const [k, v] of Object.entries(data)) putOwn(next, k, v);
  for (const k of patch.unset) delete next[k];
  for (const [k, v] of Object.entries(patch.set)) putOwn(next, k, v);
  return next;
}

/** The effective expiry of a patch: never past the absolute expiry. */
export function clampExpiry(expiresAt: number, absoluteExpiresAt: number): number {
  return Math.min(expiresAt, absoluteExpiresAt);
}

/** A record is live only while every expiry it carries is in the future. */
export function isLive(session: StoredSession, now: number): boolean {
  return session.expiresAt > now && session.absoluteExpiresAt > now;
}

/** The keys of `patch.expect` whose stored text differs from what the request read at load. */
export function staleExpectations(data: Record<string, string>, patch: Patch): string[] {
  if (patch.expect === undefined) return [];
  const stale: string[] = [];
  for (const [k, v] of Object.entries(patch.expect)) {
    const stored = Object.hasOwn(data, k) ? data[k] : null;
    if (stored !== v) stale.push(k);
  }
  return stale;
}

/**
 * Applies `patch` to a live session held by a record store, returning the session to store
 * (a new object: `session` is not modified). Throws `ConflictError` when the expected version,
 * the lock token or an expected key value does not match, `SessionTooLargeError` over the limit;
 * either way nothing is to be written. `lockToken` is the token holding the record's lock now.
 */
export function applyRecordPatch(
  store: string,
  limits: StoreLimits,
  session: StoredSession,
  patch: Patch,
  lockToken: string | undefined,
): StoredSession {
  if (patch.expectVersion !== undefined && patch.expectVersion !== session.version) {
    throw versionConflict(store);
  }
  if (patch.lockToken !== undefined && lockToken !== patch.lockToken) throw lockLost(store);
  const stale = staleExpectations(session.data, patch);
  if (stale.length > 0) throw staleKeys(store, stale);
  const data = applyPatchData(session.data, patch);
  checkSize(store, data, patchLimit(limits, patch));
  const next: StoredSession = {
    ...session,
    data,
    expiresAt: clampExpiry(patch.expiresAt, session.absoluteExpiresAt),
    version: session.version + 1,
  };
  if (patch.userId === null) delete next.userId;
  else if (patch.userId !== undefined) next.userId = patch.userId;
  return next;
}

/** Whether the patch releases the lock it holds, in the same write. */
export function releasesLock(patch: Patch): boolean {
  return patch.lockToken !== undefined && patch.releaseLock === true;
}

/** `summarize` without reading the data twice, for stores that keep a size. */
export function summaryOf(
  key: string,
  session: StoredSession,
  size = dataSize(session.data),
): SessionSummary {
  return { ...summarize(key, session), size };
}

/** Own data keys, `__proto__` included: the core's helper, for the stores. */
export { putOwn };
