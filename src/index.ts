export type { Callback } from './core/callback.js';
export { decodeValue, encodeValue, MAX_DEPTH, MAX_KEY_BYTES } from './core/codec.js';
export type { EncryptionKey, EncryptionOptions } from './core/encryption.js';
export {
  BatonError,
  type BatonErrorCode,
  ConfigError,
  ConflictError,
  InvalidInputError,
  isBatonError,
  LockTimeoutError,
  NotSupportedError,
  SessionDataError,
  SessionExistsError,
  SessionTooLargeError,
  StoreUnavailableError,
} from './core/errors.js';
export type { SessionEvents } from './core/events.js';
export { generateId, hashId, isWellFormedId, sign, unsign } from './core/ids.js';
export {
  type CommitResult,
  type RequestInfo,
  SessionManager,
  shouldCreate,
  shouldTouch,
} from './core/manager.js';
export type { ConcurrencyMode, CookieOptions, SessionOptions } from './core/options.js';
export { Session, type SessionData } from './core/session.js';
export type {
  GcOptions,
  GcProgress,
  LockHandle,
  OperationInfo,
  Patch,
  ScanOptions,
  SessionSummary,
  Store,
  StoredSession,
  StoreLimits,
} from './stores/store.js';
