/**
 * The Store contract over SQL, once for every dialect. A dialect holds the statements and how
 * their results read (`dialect.ts`); this class holds the flow: input checks, the size limit,
 * telling a gone session from a conflict after a guarded write matched nothing, lock handles,
 * keyset paging, gc batching and pacing, metrics and error mapping.
 *
 * Every operation is one statement on the success path. Only a patch that matched no row reads
 * once more, to say why (gone → null, stale version or lost lock → ConflictError, too large →
 * SessionTooLargeError).
 */
import { randomUUID } from 'node:crypto';
import {
  ConfigError,
  ConflictError,
  InvalidInputError,
  isBatonError,
  LockTimeoutError,
  SessionExistsError,
  SessionTooLargeError,
  StoreUnavailableError,
} from '../../core/errors.js';
import { type ClockOption, resolveClockOptions, SyncedClock } from '../clock.js';
import {
  applyPatchData,
  assertExpiry,
  assertKey,
  assertPatch,
  assertStoredSession,
  assertUserId,
  dataSize,
  OperationReporter,
  patchLimit,
  sleep,
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
import type { SqlDialect, SqlQuery, SqlResult, SqlRow } from './dialect.js';

/** Options every SQL store takes. */
export interface SqlStoreOptions {
  /**
   * Largest session in bytes of key names plus JSON text. Checked before every write, and inside
   * the patch statement itself, so concurrent patches cannot grow a session past it.
   * @default 1048576 (1 MiB)
   */
  maxSize?: number;
  /**
   * Rows per page for `scan()` and per DELETE for `gc()`.
   * @default 500
   */
  batchSize?: number;
  /**
   * Which clock decides expiry: `'store'` reads the database server's once a minute and corrects
   * this machine's by the difference; `'local'` uses this machine's as is. See the README.
   * @default 'store'
   */
  clock?: ClockOption;
}

/** How a concrete store runs statements and ends its pool. */
export interface SqlBackend {
  query(query: SqlQuery): Promise<SqlResult>;
  /** Ends the pool when the store created it; a no-op for a pool the user passed. */
  end(): Promise<void>;
}

/** How often a patch that matched nothing, for no reason found, is tried again. */
const PATCH_ATTEMPTS = 3;
/** How often a statement the engine chose as a deadlock victim is run in all. */
const DEADLOCK_ATTEMPTS = 4;

export class SqlStore implements Store {
  readonly name: string;
  readonly limits: StoreLimits;
  readonly capabilities: StoreCapabilities = Object.freeze({
    lock: true,
    userIndex: true,
    scan: true,
    gc: true,
    ensureTable: true,
    serverTime: true,
    lockNotify: false,
  });
  readonly #dialect: SqlDialect;
  readonly #backend: SqlBackend;
  readonly #ops: OperationReporter;
  readonly #batchSize: number;
  #closed: Promise<void> | undefined;
  /** The database server's clock: every expiry decision and every `now` bound into a statement. */
  readonly clock: SyncedClock;

  constructor(dialect: SqlDialect, backend: SqlBackend, options: Required<SqlStoreOptions>) {
    this.name = dialect.name;
    this.#dialect = dialect;
    this.#backend = backend;
    this.#ops = new OperationReporter(dialect.name);
    this.limits = { maxSessionBytes: options.maxSize };
    this.#batchSize = options.batchSize;
    this.clock = new SyncedClock(() => this.serverTime(), {
      ...resolveClockOptions(options.clock, dialect.name),
      resolutionMs: 1,
      scope: dialect.name,
    });
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
      this.#assertKey(key);
      const row = await this.#guard(() => this.#dialect.get(this.#run, key, this.clock.now()));
      return row ? toStored(row) : null;
    });
  }

  create(key: string, session: StoredSession): Promise<void> {
    return this.#ops.measure('create', async () => {
      this.#assertKey(key);
      assertStoredSession(this.name, session);
      this.#assertUserId(session.userId);
      this.#assertNoNul('a data key or value', Object.entries(session.data).flat());
      this.#checkSize(dataSize(session.data));
      const created = await this.#guard(() =>
        this.#dialect.create(this.#run, key, session, this.clock.now()),
      );
      if (!created) throw new SessionExistsError({ scope: this.name });
    });
  }

  patch(key: string, patch: Patch): Promise<{ version: number } | null> {
    return this.#ops.measure('patch', async () => {
      this.#assertKey(key);
      assertPatch(this.name, patch);
      this.#assertUserId(patch.userId);
      this.#assertNoNul('a data key or value', [...Object.entries(patch.set).flat(), ...patch.unset]);
      const setBytes = dataSize(patch.set);
      const maxBytes = patchLimit(this.limits, patch);
      this.#checkSize(setBytes, maxBytes);
      const limit = { maxBytes, setBytes };
      for (let attempt = 1; ; attempt++) {
        const now = this.clock.now();
        const version = await this.#guard(() => this.#dialect.patch(this.#run, key, patch, now, limit));
        if (version !== null) return { version };
        // Nothing matched: say why. This read happens only on the failure path.
        const row = await this.#guard(() => this.#dialect.get(this.#run, key, this.clock.now()));
        if (!row) return null;
        if (patch.expectVersion !== undefined && row.version !== patch.expectVersion) {
          throw new ConflictError(undefined, { scope: this.name });
        }
        if (patch.lockToken !== undefined && row.lockToken !== patch.lockToken) {
          throw new ConflictError(
            'the lock on this session was lost (it expired and another request took it)',
            {
              scope: this.name,
            },
          );
        }
        const size = dataSize(applyPatchData(row.data ?? {}, patch));
        this.#checkSize(size, maxBytes);
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
      this.#assertKey(key);
      assertExpiry(this.name, expiresAt);
      return this.#guard(() => this.#dialect.touch(this.#run, key, expiresAt, this.clock.now()));
    });
  }

  destroy(key: string): Promise<boolean> {
    return this.#ops.measure('destroy', async () => {
      this.#assertKey(key);
      return this.#guard(() => this.#dialect.destroy(this.#run, key, this.clock.now()));
    });
  }

  lock(key: string, ttlMs: number): Promise<LockHandle | null> {
    return this.#ops.measure('lock', async () => {
      this.#assertKey(key);
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
      this.#assertUserId(userId);
      const rows = await this.#guard(() => this.#dialect.listByUser(this.#run, userId, this.clock.now()));
      return rows.map(toSummary);
    });
  }

  async *scan(options: ScanOptions = {}): AsyncIterable<SessionSummary> {
    const includeExpired = options.includeExpired ?? false;
    let left = options.limit ?? Number.POSITIVE_INFINITY;
    let after: string | null = null;
    while (left > 0) {
      const size = Math.min(this.#batchSize, left);
      const cursor: string | null = after;
      const rows: SqlRow[] = await this.#ops.measure('scan', () =>
        this.#guard(() => this.#dialect.scanPage(this.#run, cursor, size, this.clock.now(), includeExpired)),
      );
      for (const row of rows) {
        yield toSummary(row);
        left--;
      }
      const last: SqlRow | undefined = rows.at(-1);
      if (rows.length < size || last === undefined) return;
      after = last.key;
    }
  }

  /**
   * Deletes expired rows in batches of `batchSize`, by the expires index. `rate` bounds
   * deletions per second; `scanned` counts the expired rows the index led to (the engine
   * never reads live rows for this).
   */
  gc(options: GcOptions = {}): Promise<{ deleted: number; scanned: number }> {
    return this.#ops.measure('gc', async () => {
      const now = this.clock.now();
      if (options.dryRun) {
        const count = await this.#guard(() => this.#dialect.countExpired(this.#run, now));
        options.onProgress?.({ scanned: count, deleted: count });
        return { deleted: count, scanned: count };
      }
      const rate = options.rate;
      if (rate !== undefined && (!Number.isFinite(rate) || rate <= 0)) {
        throw new InvalidInputError(`gc rate must be a number > 0, got ${String(rate)}`, {
          scope: this.name,
        });
      }
      const batch =
        rate === undefined ? this.#batchSize : Math.max(1, Math.min(this.#batchSize, Math.floor(rate)));
      const started = performance.now();
      let deleted = 0;
      for (;;) {
        const n = await this.#guard(() => this.#dialect.deleteExpired(this.#run, now, batch));
        deleted += n;
        options.onProgress?.({ scanned: deleted, deleted });
        if (n < batch) break;
        if (rate !== undefined) {
          // Hold the pace: `deleted` rows may take no less than deleted / rate seconds.
          const ahead = (deleted / rate) * 1000 - (performance.now() - started);
          if (ahead > 0) await sleep(ahead);
        }
      }
      return { deleted, scanned: deleted };
    });
  }

  onOperation(listener: OperationListener): () => void {
    return this.#ops.subscribe(listener);
  }

  close(): Promise<void> {
    // mysql2's pool.end() rejects with the error of a connection that failed while opening.
    this.#closed ??= this.#backend.end().catch((err: unknown) => {
      throw this.#storeError(err);
    });
    return this.#closed;
  }

  readonly #run = async (query: SqlQuery): Promise<SqlResult> => {
    if (this.#closed) {
      throw new StoreUnavailableError('the store is closed', { scope: this.name });
    }
    return this.#backend.query(query);
  };

  /** Maps engine and client errors to ours, at the edge. */
  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        // A deadlock victim (a session write racing gc() on another instance, say) was rolled
        // back whole: it runs again, a few times, after a short random pause.
        if (
          attempt < DEADLOCK_ATTEMPTS &&
          !isBatonError(err) &&
          this.#dialect.classifyError(err) === 'deadlock'
        ) {
          await sleep(5 + Math.random() * 20 * attempt);
          continue;
        }
        throw this.#storeError(err);
      }
    }
  }

  /** The error a caller sees for an engine error. */
  #storeError(err: unknown): Error {
    if (isBatonError(err)) return err;
    const { engine, name } = this.#dialect;
    const detail = describeError(err);
    switch (this.#dialect.classifyError(err)) {
      case 'lockTimeout':
        return new LockTimeoutError(0, { scope: name, cause: err });
      case 'missingTable':
        return new StoreUnavailableError(
          `the sessions table does not exist (${detail}); create it with \`await store.ensureTable()\` or \`baton create-table\``,
          { scope: name, cause: err },
        );
      case 'connection':
        return new StoreUnavailableError(`${engine} is not reachable: ${detail}`, {
          scope: name,
          cause: err,
        });
      default:
        return new StoreUnavailableError(`${engine} answered with an error: ${detail}`, {
          scope: name,
          cause: err,
        });
    }
  }

  #assertKey(key: string): void {
    assertKey(this.name, key);
    this.#assertNoNul('a session key', [key]);
    if (Buffer.byteLength(key) > this.#dialect.maxKeyBytes) {
      throw new InvalidInputError(
        `a session key may be at most ${this.#dialect.maxKeyBytes} bytes, got ${Buffer.byteLength(key)}`,
        { scope: this.name },
      );
    }
  }

  /** PostgreSQL text and jsonb cannot hold U+0000: say so before the engine does, by name. */
  #assertNoNul(what: string, strings: string[]): void {
    if (!this.#dialect.forbidsNul) return;
    const bad = strings.find((s) => s.includes('\u0000'));
    if (bad !== undefined) {
      throw new InvalidInputError(
        `${what} contains the character U+0000, which ${this.#dialect.engine} cannot store: ${JSON.stringify(bad.slice(0, 40))}`,
        { scope: this.name },
      );
    }
  }

  #assertUserId(userId: string | null | undefined): void {
    if (typeof userId === 'string') this.#assertNoNul('a user id', [userId]);
    if (typeof userId === 'string' && Buffer.byteLength(userId) > this.#dialect.maxUserIdBytes) {
      throw new InvalidInputError(
        `a user id may be at most ${this.#dialect.maxUserIdBytes} bytes, got ${Buffer.byteLength(userId)}`,
        { scope: this.name },
      );
    }
  }

  #checkSize(size: number, limit = this.limits.maxSessionBytes): void {
    if (size > limit) {
      throw new SessionTooLargeError(size, limit, { scope: this.name });
    }
  }
}

function toStored(row: SqlRow): StoredSession {
  const s: StoredSession = {
    data: row.data ?? {},
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    absoluteExpiresAt: row.absoluteExpiresAt,
    version: row.version,
  };
  if (row.userId !== null) s.userId = row.userId;
  return s;
}

function toSummary(row: SqlRow): SessionSummary {
  const s: SessionSummary = {
    key: row.key,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    absoluteExpiresAt: row.absoluteExpiresAt,
    version: row.version,
    size: row.size ?? 0,
  };
  if (row.userId !== null) s.userId = row.userId;
  return s;
}

function describeError(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const { code, message } = err as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' && message.length > 0 ? message : String(err);
  return code === undefined ? text : `${String(code)} ${text}`;
}

/** Checks a table or schema name: letters, digits and `_`, as the docs' DDL assumes. */
export function isSqlIdentifier(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(value);
}

/** Defaults and checks for the options every SQL store takes. */
export function checkSqlOptions(options: SqlStoreOptions): Required<SqlStoreOptions> {
  return {
    maxSize: positive('maxSize', options.maxSize ?? 1024 * 1024),
    batchSize: positive('batchSize', options.batchSize ?? 500),
    clock: options.clock ?? 'store',
  };
}

export function positive(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new ConfigError(option, `must be a whole number > 0, got ${JSON.stringify(value)}`);
  }
  return value;
}
