/**
 * TracingChannels (`node:diagnostics_channel`) for APMs and OpenTelemetry:
 *
 * - `baton-session:load`   one per request, around `SessionManager.load`
 * - `baton-session:commit` one per request, around `SessionManager.commit`
 * - `baton-session:store`  one per store call (get, create, patch, touch, destroy, lock, ...)
 *
 * Nothing is built while nobody subscribes: callers check `hasSubscribers` first. A context never
 * holds a session id, a cookie, a store key or session data; `fingerprint` is a short HMAC of the
 * store key under the first secret, enough to tell two sessions apart in one trace and useless for
 * finding or forging either. The traced functions resolve to nothing, so `context.result` stays
 * empty (the session and the commit's Set-Cookie never reach a subscriber).
 */
import { createHmac } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';

/** How `load` found the session. */
export type LoadOutcome =
  /** A live session was read. */
  | 'loaded'
  /** The request carried no cookie or token: a new, unsaved session. */
  | 'new'
  /** A cookie or token that failed verification (no store read was made). */
  | 'forged'
  /** A correctly signed id with no live session behind it (expired, logged out or unknown). */
  | 'expired'
  /** A session taken over from a legacy (express-session peer) cookie. */
  | 'adopted';

/** What a commit wrote. */
export type CommitWrite =
  /** Nothing: no change, and the expiry within `touchAfter`. */
  | 'none'
  /** A new session was stored. */
  | 'create'
  /** Changed keys (and the expiry) were written. */
  | 'patch'
  /** Only the expiry moved. */
  | 'touch'
  /** The session moved to a new id (option `renewal`). */
  | 'renew'
  /** The session was found deleted (logout elsewhere) or destroyed: nothing written. */
  | 'gone';

interface RequestContext {
  /** The adapter that served the request (`express`, `fastify`, ...); undefined for direct calls. */
  adapter: string | undefined;
  /** The store's name: `dynamodb`, `redis`, `memory`... */
  store: string;
  /** The manager's concurrency mode. */
  concurrency: string;
  /** A short non-reversible tag of the session (8 hex characters); absent for a new one. */
  fingerprint?: string;
  /** Set by the channel when the operation failed. */
  error?: unknown;
}

/** The `baton-session:load` context. */
export interface LoadContext extends RequestContext {
  outcome: LoadOutcome;
  /** A renewed session's old id was followed to its current one. */
  forwarded: boolean;
  /** `concurrency: 'lock'`: milliseconds spent waiting for the lock (0 without waiting). */
  lockWaitMs: number;
}

/** The `baton-session:commit` context. */
export interface CommitContext extends RequestContext {
  /** The session was written (created, patched, touched or renewed). */
  written: boolean;
  write: CommitWrite;
  /** Top-level keys written or removed. */
  keys: number;
  /** Bytes of the written keys' names and JSON text (before encryption). */
  bytes: number;
  /** Writes that lost against another writer (version or renewal conflicts). */
  conflicts: number;
  /** Writes made again after a conflict. */
  retries: number;
}

/** The `baton-session:store` context. */
export interface StoreContext {
  /** The store's name: `dynamodb`, `redis`, `postgres`, `mysql`, `memcached`, `file`, `memory`. */
  store: string;
  /** The store call: `get`, `create`, `patch`, `touch`, `destroy`, `lock`, `unlock`, `listByUser`, ... */
  operation: string;
  /** Capacity units the engine reported (DynamoDB). */
  capacityUnits?: number;
  /** Requests sent to the engine for this call (DynamoDB: a failed condition may read again). */
  attempts: number;
  /** The `BatonError` code when the call failed. */
  errorCode?: string;
  error?: unknown;
}

export const loadChannel = diagnostics.tracingChannel<unknown, LoadContext>('baton-session:load');
export const commitChannel = diagnostics.tracingChannel<unknown, CommitContext>('baton-session:commit');
export const storeChannel = diagnostics.tracingChannel<unknown, StoreContext>('baton-session:store');

/** Commits being traced, so inner steps can count their conflicts and retries. */
const commits = new WeakMap<object, CommitContext>();

/** The commit context of a session being committed while someone subscribes. */
export function commitTrace(session: object): CommitContext | undefined {
  return commits.get(session);
}

export function traceCommitOf(session: object, context: CommitContext): () => void {
  commits.set(session, context);
  return () => commits.delete(session);
}

/** The adapter of each session whose load was traced, named again in its commit context. */
const adapters = new WeakMap<object, string>();

export function rememberAdapter(session: object, adapter: string | undefined): void {
  if (adapter !== undefined) adapters.set(session, adapter);
}

export function adapterOf(session: object): string | undefined {
  return adapters.get(session);
}

/** 8 hex characters of HMAC-SHA256(secret, key): tells sessions apart, reveals nothing. */
export function fingerprint(secret: string, key: string): string {
  return createHmac('sha256', secret)
    .update('baton-session:fingerprint\u0000')
    .update(key)
    .digest('hex')
    .slice(0, 8);
}

/** Bytes of key names and JSON text of the entries of `after` that differ from `before`, and keys removed. */
export function changedSize(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
): { keys: number; bytes: number } {
  let keys = 0;
  let bytes = 0;
  for (const [k, v] of after) {
    if (before.get(k) === v) continue;
    keys++;
    bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  for (const k of before.keys()) if (!after.has(k)) keys++;
  return { keys, bytes };
}

/** The `code` of a failure, when it has one. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
