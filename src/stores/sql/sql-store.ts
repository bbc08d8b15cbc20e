/**
 * The Store contract over SQL, once for every dialect. A dialect holds the statements and how
 * their results read (`dialect.ts`); this class holds the flow of each Store method: the kit's
 * input checks and size limits, telling a gone session from a conflict after a guarded write
 * matched nothing (`failures.ts`), and lock handles. Paging and gc live in `sweep.ts`, options in
 * `options.ts`.
 *
 * Every operation is one statement on the success path. Only a patch that matched no row reads
 * once more, to say why (gone → null, stale version, lost lock or changed key → ConflictError,
 * too large → SessionTooLargeError).
 */
import { randomUUID } from 'node:crypto';
import { ConflictError, InvalidInputError, SessionExistsError } from '../../core/errors.js';
import { resolveClockOptions, SyncedClock } from '../clock.js';
import {
  assertExpiry,
  assertPatch,
  assertStoredSession,
  assertUserId,
  checkSize,
  dataSize,
  OperationReporter,
  patchLimit,
  storeClosed,
} from '../kit/index.js';
import type {
  GcOptions,
  LockHandle,
  OperationListener,
  Patch,
  ScanOptions,
  SessionSummary,
  Store,
  StoreCapabilities,
  StoredSession,
  StoreLimits,
} from '../store.js';
import { assertNoNul, assertSqlKey, assertSqlUserId } from './checks.js';
import type { SqlDialect, SqlQuery, SqlResult, SqlRow } from './dialect.js';
import { explainMiss, guarded, storeError } from './failures.js';
import type { SqlBackend, SqlStoreOptions } from './options.js';
import { toStored, toSummary } from './rows.js';
import { type SweepContext, scanPages, sweepExpired } from './sweep.js';

export type { SqlBackend, SqlStoreOptions } from './options.js';
export { checkSqlOptions, isSqlIdentifier, positive } from './options.js';

/** How often a patch that matched nothing, for no reason found, is tried again. */
const PATCH_ATTEMPTS = 3;

export class SqlStore implements Store {
  readonly name: string;
  readonly limits: StoreLimits;
  readonly capabilities: StoreCapabilities;
  readonly #dialect: SqlDialect;
  readonly #backend: SqlBackend;
  readonly #ops: OperationReporter;
  readonly #sweep: SweepContext;
  #closed: Promise<void> | undefined;
  /** The database server's clock: every expiry decision and every `now` bound into a statement. */
  readonly clock: SyncedClock;

  /** `lockNotify`: the concrete store implements `waitForUnlock` (PostgreSQL's LISTEN/NOTIFY). */
  constructor(
    dialect: SqlDialect,
    backend: SqlBackend,
    options: Required<SqlStoreOptions>,
    features: { lockNotify: boolean } = { lockNotify: false },
  ) {
    this.name = dialect.name;
    this.#dialect = dialect;
    this.#backend = backend;
    this.#ops = new OperationReporter(dialect.name);
    this.limits = { maxSessionBytes: options.maxSize };
    this.capabilities = Object.freeze({
      lock: true,
      userIndex: true,
      scan: true,
      gc: true,
      ensureTable: true,
      serverTime: true,
      lockNotify: features.lockNotify,
    });
    this.clock = new SyncedClock(() => this.serverTime(), {
      ...resolveClockOptions(options.clock, dialect.name),
      resolutionMs: 1,
      scope: dialect.name,
    });
    this.#sweep = {
      dialect,
      run: this.#run,
      batchSize: options.batchSize,
      now: () => this.clock.now(),
      guard: (fn) => this.#guard(fn),
      measure: (op, fn) => this.#ops.measure(op, fn),
    };
  }

  /** The database server's clock, in ms since the epoch. Not reported as an operation. */
  serverTime(): Promise<number> {
    return this.#guard(() => this.#dialect.serverTime(this.#run));
  }

  /**
   * Creates the table and its indexes when missing (idempotent; safe to run from several
   * instances at once). Nothing else creates tables.
   */
  ensureTable(): Promise<void> {
    return this.#ops.measure('ensureTable', () => this.#guard(() => this.#dialect.ensureTable(this.#run)));
  }

  get(key: string): Promise<StoredSession | null> {
    return this.#ops.measure('get', async () => {
      assertSqlKey(this.#dialect, key);
      const row = await this.#guard(() => this.#dialect.get(this.#run, key, this.clock.now()));
      return row ? toStored(row) : null;
    });
  }

  create(key: string, session: StoredSession): Promise<void> {
    return this.#ops.measure('create', async () => {
      assertSqlKey(this.#dialect, key);
      assertStoredSession(this.name, session);
      assertSqlUserId(this.#dialect, session.userId);
      assertNoNul(this.#dialect, 'a data key or value', Object.entries(session.data).flat());
      checkSize(this.name, session.data, this.limits.maxSessionBytes);
      const created = await this.#guard(() =>
        this.#dialect.create(this.#run, key, session, this.clock.now()),
      );
      if (!created) throw new SessionExistsError({ scope: this.name });
    });
  }

  patch(key: string, patch: Patch): Promise<{ version: number } | null> {
    return this.#ops.measure('patch', async () => {
      assertSqlKey(this.#dialect, key);
      assertPatch(this.name, patch);
      assertSqlUserId(this.#dialect, patch.userId);
      assertNoNul(this.#dialect, 'a data key or value', [
        ...Object.entries(patch.set).flat(),
        ...patch.unset,
        ...Object.entries(patch.expect ?? {}).flatMap(([k, v]) => (v === null ? [k] : [k, v])),
      ]);
      const maxBytes = patchLimit(this.limits, patch);
      checkSize(this.name, patch.set, maxBytes);
      const limit = { maxBytes, setBytes: dataSize(patch.set) };
      for (let attempt = 1; ; attempt++) {
        const now = this.clock.now();
        const version = await this.#guard(() => this.#dialect.patch(this.#run, key, patch, now, limit));
        if (version !== null) return { version };
        // Nothing matched: say why. This read happens only on the failure path.
        const row = await this.#guard(() => this.#dialect.get(this.#run, key, this.clock.now()));
        if (!row) return null;
        explainMiss(this.name, row, patch, maxBytes);
        // The row changed between the two statements (e.g. a concurrent patch shrank it): again.
        if (attempt >= PATCH_ATTEMPTS) {
          throw new ConflictError('the session kept changing while this patch was applied; retry', {
            scope: this.name,
          });
        }
      }
    });
  }

  touch(key: string, expiresAt: number): Promise<boolean> {
    return this.#ops.measure('touch', async () => {
      assertSqlKey(this.#dialect, key);
      assertExpiry(this.name, expiresAt);
      return this.#guard(() => this.#dialect.touch(this.#run, key, expiresAt, this.clock.now()));
    });
  }

  destroy(key: string): Promise<boolean> {
    return this.#ops.measure('destroy', async () => {
      assertSqlKey(this.#dialect, key);
      return this.#guard(() => this.#dialect.destroy(this.#run, key, this.clock.now()));
    });
  }

  lock(key: string, ttlMs: number): Promise<LockHandle | null> {
    return this.#ops.measure('lock', async () => {
      assertSqlKey(this.#dialect, key);
      if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
        throw new InvalidInputError(`a lock's ttlMs must be a number > 0, got ${String(ttlMs)}`, {
          scope: this.name,
        });
      }
      const token = randomUUID();
      const now = this.clock.now();
      let got: SqlRow | 'missing' | 'held';
      try {
        got = await this.#guard(() => this.#dialect.lock(this.#run, key, token, now + ttlMs, now));
      } catch (err) {
        // A row lock held by some other transaction past rowLockTimeoutMs: as good as held.
        if ((err as { code?: string }).code === 'BATON_LOCK_TIMEOUT') return null;
        throw err;
      }
      if (got === 'held') return null;
      if (got === 'missing') return { token, session: null, release: async () => {} };
      let released = false;
      const release = async (): Promise<void> => {
        if (released) return;
        await this.#ops.measure('unlock', () =>
          this.#guard(() => this.#dialect.unlock(this.#run, key, token)),
        );
        released = true;
      };
      return { token, session: toStored(got), release };
    });
  }

  listByUser(userId: string): Promise<SessionSummary[]> {
    return this.#ops.measure('listByUser', async () => {
      assertUserId(this.name, userId);
      assertSqlUserId(this.#dialect, userId);
      const rows = await this.#guard(() => this.#dialect.listByUser(this.#run, userId, this.clock.now()));
      return rows.map(toSummary);
    });
  }

  scan(options: ScanOptions = {}): AsyncIterable<SessionSummary> {
    return scanPages(this.#sweep, options);
  }

  /** Deletes expired rows in batches, by the expires index (see `sweep.ts`). */
  gc(options: GcOptions = {}): Promise<{ deleted: number; scanned: number }> {
    return this.#ops.measure('gc', () => sweepExpired(this.#sweep, options));
  }

  onOperation(listener: OperationListener): () => void {
    return this.#ops.subscribe(listener);
  }

  close(): Promise<void> {
    // mysql2's pool.end() rejects with the error of a connection that failed while opening.
    this.#closed ??= this.#backend.end().catch((err: unknown) => {
      throw storeError(this.#dialect, err);
    });
    return this.#closed;
  }

  readonly #run = async (query: SqlQuery): Promise<SqlResult> => {
    if (this.#closed) throw storeClosed(this.name);
    return this.#backend.query(query);
  };

  #guard<T>(fn: () => Promise<T>): Promise<T> {
    return guarded(this.#dialect, fn);
  }
}
