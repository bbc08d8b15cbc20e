/**
 * The typed errors every store raises, written once: a driver says what happened, the kit says it
 * the same way for all stores, with the store's name.
 */
import { ConflictError, StoreUnavailableError } from '../../core/errors.js';

/** `patch` with `expectVersion`: another request wrote in between. */
export function versionConflict(store: string): ConflictError {
  return new ConflictError(undefined, { scope: store });
}

/** `patch` with `lockToken`: the lock expired and another request took it. */
export function lockLost(store: string): ConflictError {
  return new ConflictError('the lock on this session was lost (it expired and another request took it)', {
    scope: store,
  });
}

/** `patch` with `expect`: these keys changed since the request read them (the core rebases). */
export function staleKeys(store: string, keys: readonly string[]): ConflictError {
  return new ConflictError(
    `${keys.length === 1 ? 'a key' : `${keys.length} keys`} of this session changed since the request read it`,
    { scope: store, staleKeys: keys },
  );
}

/** Any call after `close()`. */
export function storeClosed(store: string): StoreUnavailableError {
  return new StoreUnavailableError('the store is closed', { scope: store });
}

/** A call that did not answer within the store's `timeoutMs`. */
export function callTimedOut(store: string, operation: string, ms: number): StoreUnavailableError {
  return new StoreUnavailableError(`${operation} did not answer within ${ms} ms (timeoutMs)`, {
    scope: store,
  });
}
