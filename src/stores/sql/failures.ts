/**
 * Engine and client errors → ours, at the SQL stores' edge, and the one engine error a store
 * retries (a deadlock victim, rolled back whole). What an error means is the dialect's to say
 * (`classifyError`); how it reads to a caller is said here once for both dialects.
 */
import { isBatonError, LockTimeoutError, StoreUnavailableError } from '../../core/errors.js';
import {
  applyPatchData,
  checkSize,
  lockLost,
  sleep,
  staleExpectations,
  staleKeys,
  versionConflict,
} from '../kit/index.js';
import type { Patch } from '../store.js';
import type { SqlDialect, SqlRow } from './dialect.js';

/** How often a statement the engine chose as a deadlock victim is run in all. */
const DEADLOCK_ATTEMPTS = 4;

/**
 * Runs `fn`, mapping what it throws to our errors. A deadlock victim (a session write racing
 * gc() on another instance, say) was rolled back whole: it runs again, a few times, after a
 * short random pause.
 */
export async function guarded<T>(dialect: SqlDialect, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt < DEADLOCK_ATTEMPTS && !isBatonError(err) && dialect.classifyError(err) === 'deadlock') {
        await sleep(5 + Math.random() * 20 * attempt);
        continue;
      }
      throw storeError(dialect, err);
    }
  }
}

/** The error a caller sees for an engine error (ours pass through). */
export function storeError(dialect: SqlDialect, err: unknown): Error {
  if (isBatonError(err)) return err;
  const { engine, name } = dialect;
  const detail = describeError(err);
  switch (dialect.classifyError(err)) {
    case 'lockTimeout':
      return new LockTimeoutError(0, { scope: name, cause: err });
    case 'missingTable':
      return new StoreUnavailableError(
        `the sessions table does not exist (${detail}); create it with \`await store.ensureTable()\` or \`baton create-table\``,
        { scope: name, cause: err },
      );
    case 'connection':
      return new StoreUnavailableError(`${engine} is not reachable: ${detail}`, { scope: name, cause: err });
    default:
      return new StoreUnavailableError(`${engine} answered with an error: ${detail}`, {
        scope: name,
        cause: err,
      });
  }
}

function describeError(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const { code, message } = err as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' && message.length > 0 ? message : String(err);
  return code === undefined ? text : `${String(code)} ${text}`;
}

/**
 * Why a guarded patch matched no row, from the row as it is now (null: the session is gone, and
 * the caller answers null). Throws the matching error, in the order the kit's record rules check
 * (version, lock, expected key values, size); returns when nothing explains it, meaning the row
 * changed between the two statements and the patch may be tried again.
 */
export function explainMiss(store: string, row: SqlRow, patch: Patch, maxBytes: number): void {
  if (patch.expectVersion !== undefined && row.version !== patch.expectVersion) {
    throw versionConflict(store);
  }
  if (patch.lockToken !== undefined && row.lockToken !== patch.lockToken) throw lockLost(store);
  const data = row.data ?? {};
  const stale = staleExpectations(data, patch);
  if (stale.length > 0) throw staleKeys(store, stale);
  checkSize(store, applyPatchData(data, patch), maxBytes);
}
