import type { BatonError } from './errors.js';
import type { OperationInfo, SessionSummary } from './store.js';

/** Events a `SessionManager` emits: `manager.on(name, listener)`. Session ids are never part of them. */
export interface SessionEvents {
  /** A new session was stored. */
  created: [info: { key: string }];
  destroyed: [info: { key: string }];
  regenerated: [info: { oldKey: string; key: string }];
  /**
   * Renewal (option `renewal`): the session moved to a new id; `oldKey` forwards to it for the grace
   * window. `forwarded` fires when a request with an old id was led to the session's new one.
   */
  renewed: [info: { oldKey: string; key: string }];
  forwarded: [info: { oldKey: string; key: string }];
  /** A request presented a session whose record had expired (the engine had not deleted it yet, or had). */
  expired: [info: { key: string }];
  /**
   * A write lost against another writer: `strict` mode, or `merge` mode when the same keys kept
   * changing through every rebase (the request answers 409).
   */
  conflict: [info: { key: string }];
  /**
   * `merge` mode: keys this request changed were changed by another request in between, and its
   * change was rebased onto theirs and written (`keys` rebased; `leafConflicts` of them had the
   * same leaf changed on both sides, where this request's value won; `retries` writes made again).
   */
  rebased: [info: { key: string; keys: number; leafConflicts: number; retries: number }];
  lockTimeout: [info: { key: string; waitedMs: number }];
  /** The store failed; the request answered 503. */
  storeError: [error: BatonError];
  /** One store call, with its duration and capacity units (metrics). */
  operation: [info: OperationInfo];
  /** A cookie or token that failed verification: no store read was made. `client` when the adapter knows it. */
  suspicious: [info: { reason: 'malformed' | 'signature' | 'legacy'; client?: string | undefined }];
  /**
   * Option `legacy`: an express-session session became the baton session under `key` (its first
   * request). Count these to watch a switch progress.
   */
  adopted: [info: { key: string }];
  /**
   * Guessing detection: more than `threshold` failed verifications within `windowMs` (option
   * `bruteForce`). Fires at most once per window; alert or block upstream.
   */
  bruteForce: [info: { failures: number; windowMs: number; threshold: number }];
  /**
   * A stored session that could not be read: a value failed decryption (tampered, or its key is no
   * longer configured), is not JSON, or sits under a reserved name (`id`, `isNew`, `regenerate`...,
   * written by other code). The session is treated as absent.
   */
  unreadable: [info: { key: string; reason: 'decrypt' | 'json' | 'reserved' }];
  /** A correctly signed id the store does not know (expired, logged out, or from another deployment). */
  unknown: [info: { key: string }];
  /** `destroyUser` logged a user out everywhere. */
  userLoggedOut: [info: { userId: string; sessions: SessionSummary[] }];
  /** `maxSessionsPerUser`: a login signed out these sessions, the user's least recently seen. */
  evicted: [info: { userId: string; sessions: SessionSummary[] }];
}
