/**
 * Redis client and server errors → baton's typed errors, at the store's edge. The errors every
 * store shares (conflicts, lock lost, stale keys, closed) come from the kit.
 */
import { ConfigError, isBatonError, StoreUnavailableError } from '../../core/errors.js';
import { NAME } from './options.js';

/** A command that did not answer within `commandTimeoutMs`. */
export function commandTimedOut(ms: number): StoreUnavailableError {
  return new StoreUnavailableError(`Redis did not answer within ${ms} ms (commandTimeoutMs)`, {
    scope: NAME,
  });
}

/** A store made from a URL with neither client package installed. */
export function noClientPackage(): ConfigError {
  return new ConfigError('url', 'install `redis` (node-redis) or `ioredis` to connect with a URL', {
    scope: NAME,
  });
}

/**
 * Any error of a Redis call as a baton error: ours pass through; the client's become
 * `StoreUnavailableError` naming the server (never its password) and, when the client only says
 * it is offline, the last connection error, which says why.
 */
export function toStoreError(err: unknown, lastConnectionError: unknown, address: string | undefined): Error {
  if (isBatonError(err)) return err as Error;
  const cause = err ?? lastConnectionError;
  const message = err instanceof Error ? err.message : String(err);
  // node-redis answers "The client is offline" while it reconnects: say where, and why it is.
  const last = lastConnectionError instanceof Error ? lastConnectionError.message : '';
  const why = last !== '' && last !== message ? ` (last connection error: ${last})` : '';
  const at = address === undefined ? '' : ` at ${address}`;
  return new StoreUnavailableError(`Redis${at} call failed: ${message}${why}`, { scope: NAME, cause });
}

/** Whether the server does not have a script cached yet (it answers `NOSCRIPT`). */
export function isNoScript(err: unknown): boolean {
  return String((err as Error)?.message).startsWith('NOSCRIPT');
}
