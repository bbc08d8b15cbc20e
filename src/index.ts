export type { Callback } from './core/callback.js';
export { decodeValue, encodeValue, MAX_DEPTH, MAX_KEY_BYTES } from './core/codec.js';
export type { DeviceInfo, DevicesOptions } from './core/devices.js';
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
export type { LegacyOptions, LegacyRecord, LegacySource } from './core/legacy.js';
export { signLegacy, unsignLegacy } from './core/legacy-cookie.js';
export type { Logger } from './core/logger.js';
export {
  type CommitResult,
  type RequestInfo,
  SessionManager,
  shouldCreate,
  shouldTouch,
  type UserSession,
} from './core/manager.js';
export type { ConcurrencyMode, CookieOptions, RenewalOptions, SessionOptions } from './core/options.js';
export { Session } from './core/session.js';
export type { SessionData } from './core/session-data.js';
export type { CommitContext, CommitWrite, LoadContext, LoadOutcome, StoreContext } from './core/tracing.js';
export { type ClockOption, type ClockOptions, SyncedClock } from './stores/clock.js';
export type {
  GcOptions,
  GcProgress,
  LockHandle,
  OperationInfo,
  Patch,
  ScanOptions,
  SessionSummary,
  Store,
  StoreClock,
  StoredSession,
  StoreLimits,
} from './stores/store.js';
export {
  type CreateStoreOptions,
  createStore,
  parseStoreUrl,
  STORE_SCHEMES,
  type StoreKind,
  type StoreUrl,
} from './stores/url.js';
