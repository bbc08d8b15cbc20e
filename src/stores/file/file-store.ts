/**
 * Sessions as files under one directory, for a single server or several sharing an NFS mount.
 *
 * Layout under `dir`:
 *   sessions/<hh>/<hash>.json        one session (hash = sha256 hex of the key; hh = its first 2 chars)
 *   sessions/<hh>/<hash>.json.lock   held while one process reads-modifies-writes that session
 *   users/<uid hash>/<hash>          empty marker: the session <hash> belongs to that user
 *
 * A write goes to a temporary file in the same directory, is fsynced and renamed over the
 * session file, so a reader sees the old or the new session, never a torn one. Every
 * read-modify-write (create, patch, touch, destroy, lock, unlock) holds the session's lock file.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, open, opendir, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  ConfigError,
  ConflictError,
  InvalidInputError,
  isBatonError,
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
  clampExpiry,
  dataSize,
  OperationReporter,
  patchLimit,
  sleep,
  summarize,
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
import { withLockFile } from './lock-file.js';

export interface FileStoreOptions {
  /** Directory holding the sessions (created by `ensureTable()` or the first write). */
  dir: string;
  /**
   * Largest session in bytes of key names plus JSON text.
   * @default 1048576 (1 MiB)
   */
  maxSize?: number;
  /**
   * A session's lock file older than this is taken for the lock of a dead process and broken.
   * Critical sections last milliseconds; keep this well above your worst file-system stall.
   * @default 5000
   */
  lockStaleMs?: number;
  /**
   * Longest wait for a session's lock file before LockTimeoutError. Longer than `lockStaleMs`,
   * so a dead holder's lock is broken within it.
   * @default 10000
   */
  lockWaitMs?: number;
  /**
   * fsync each written file and its directory before the write counts as done. Turn off only
   * for throwaway data (tests, development).
   * @default true
   */
  fsync?: boolean;
  /**
   * Which clock decides expiry: `'store'` reads the file server's once a minute (the mtime it
   * gives a small file it writes: on NFS the server's clock) and corrects this machine's by the
   * difference; `'local'` uses this machine's as is. See the README.
   * @default 'store'
   */
  clock?: ClockOption;
}

/** What one session file holds. */
interface FileRecord {
  key: string;
  data: Record<string, string>;
  createdAt: number;
  expiresAt: number;
  absoluteExpiresAt: number;
  version: number;
  userId?: string;
  lock?: { token: string; until: number };
}

/** Temporary and lock files older than this are leftovers of a crashed process; gc removes them. */
const TMP_MAX_AGE_MS = 3_600_000;

export class FileStore implements Store {
  readonly name = 'file';
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
  readonly #dir: string;
  readonly #sessions: string;
  readonly #users: string;
  readonly #lockStaleMs: number;
  readonly #lockWaitMs: number;
  readonly #fsync: boolean;
  readonly #ops = new OperationReporter('file');
  #closed = false;
  /** The file server's clock: every expiry decision, lock expiry and leftover's age. */
  readonly clock: SyncedClock;

  constructor(options: FileStoreOptions) {
    if (typeof options?.dir !== 'string' || options.dir.length === 0) {
      throw new ConfigError('dir', 'must be the path of a directory for the session files');
    }
    this.#dir = resolve(options.dir);
    this.#sessions = join(this.#dir, 'sessions');
    this.#users = join(this.#dir, 'users');
    this.limits = { maxSessionBytes: positive('maxSize', options.maxSize ?? 1024 * 1024) };
    this.#lockStaleMs = positive('lockStaleMs', options.lockStaleMs ?? 5_000);
    this.#lockWaitMs = positive('lockWaitMs', options.lockWaitMs ?? 10_000);
    if (this.#lockWaitMs <= this.#lockStaleMs) {
      throw new ConfigError('lockWaitMs', `must be longer than lockStaleMs (${this.#lockStaleMs} ms)`);
    }
    this.#fsync = options.fsync ?? true;
    if (typeof this.#fsync !== 'boolean') throw new ConfigError('fsync', 'must be true or false');
    this.clock = new SyncedClock(() => this.serverTime(), {
      ...resolveClockOptions(options.clock, 'file'),
      // Kernel file times tick every few ms; an NFS server's may be coarser (see docs/file.md).
      resolutionMs: 10,
      scope: 'file',
    });
  }

  /**
   * The file server's clock, in ms since the epoch: the mtime it gives `<dir>/clock` when that is
   * written (on NFS the server sets it; locally it is this kernel's clock). Not reported as an
   * operation.
   */
  serverTime(): Promise<number> {
    return this.#guard(async () => {
      const path = join(this.#dir, 'clock');
      await mkdir(this.#dir, { recursive: true });
      const handle = await open(path, 'w');
      try {
        await handle.writeFile(String(process.pid));
        return (await handle.stat()).mtimeMs;
      } finally {
        await handle.close();
      }
    });
  }

  /** Creates the directories (idempotent). Writes create them too; this checks access early. */
  ensureTable(): Promise<void> {
    return this.#ops.measure('ensureTable', () =>
      this.#guard(async () => {
        await mkdir(this.#sessions, { recursive: true });
        await mkdir(this.#users, { recursive: true });
      }),
    );
  }

  get(key: string): Promise<StoredSession | null> {
    return this.#ops.measure('get', async () => {
      assertKey(this.name, key);
      const record = await this.#guard(() => this.#read(key));
      return record && this.#isLive(record) ? toStored(record) : null;
    });
  }

  create(key: string, session: StoredSession): Promise<void> {
    return this.#ops.measure('create', async () => {
      assertKey(this.name, key);
      assertStoredSession(this.name, session);
      this.#checkSize(dataSize(session.data));
      await this.#guard(() =>
        this.#locked(key, async () => {
          const existing = await this.#read(key);
          if (existing && this.#isLive(existing)) throw new SessionExistsError({ scope: this.name });
          const record: FileRecord = {
            key,
            data: { ...session.data },
            createdAt: session.createdAt,
            expiresAt: clampExpiry(session.expiresAt, session.absoluteExpiresAt),
            absoluteExpiresAt: session.absoluteExpiresAt,
            version: session.version,
          };
          if (session.userId !== undefined) record.userId = session.userId;
          // The index entry goes first: a crash between leaves an entry listByUser skips,
          // never a session the index misses.
          if (record.userId !== undefined) await this.#addUserEntry(record.userId, key);
          await this.#write(key, record);
        }),
      );
    });
  }

  patch(key: string, patch: Patch): Promise<{ version: number } | null> {
    return this.#ops.measure('patch', async () => {
      assertKey(this.name, key);
      assertPatch(this.name, patch);
      return this.#guard(() =>
        this.#locked(key, async () => {
          const record = await this.#read(key);
          if (!record || !this.#isLive(record)) return null;
          if (patch.expectVersion !== undefined && patch.expectVersion !== record.version) {
            throw new ConflictError(undefined, { scope: this.name });
          }
          if (patch.lockToken !== undefined && record.lock?.token !== patch.lockToken) {
            throw new ConflictError(
              'the lock on this session was lost (it expired and another request took it)',
              {
                scope: this.name,
              },
            );
          }
          const data = applyPatchData(record.data, patch);
          this.#checkSize(dataSize(data), patchLimit(this.limits, patch));
          const previousUser = record.userId;
          record.data = data;
          record.expiresAt = clampExpiry(patch.expiresAt, record.absoluteExpiresAt);
          record.version += 1;
          if (patch.userId === null) delete record.userId;
          else if (patch.userId !== undefined) record.userId = patch.userId;
          if (patch.lockToken !== undefined && patch.releaseLock) delete record.lock;
          if (record.userId !== undefined && record.userId !== previousUser) {
            await this.#addUserEntry(record.userId, key);
          }
          await this.#write(key, record);
          if (previousUser !== undefined && previousUser !== record.userId) {
            await this.#removeUserEntry(previousUser, key);
          }
          return { version: record.version };
        }),
      );
    });
  }

  touch(key: string, expiresAt: number): Promise<boolean> {
    return this.#ops.measure('touch', async () => {
      assertKey(this.name, key);
      assertExpiry(this.name, expiresAt);
      return this.#guard(() =>
        this.#locked(key, async () => {
          const record = await this.#read(key);
          if (!record || !this.#isLive(record)) return false;
          record.expiresAt = clampExpiry(expiresAt, record.absoluteExpiresAt);
          await this.#write(key, record);
          return true;
        }),
      );
    });
  }

  destroy(key: string): Promise<boolean> {
    return this.#ops.measure('destroy', async () => {
      assertKey(this.name, key);
      return this.#guard(() =>
        this.#locked(key, async () => {
          const record = await this.#read(key);
          if (!record) return false;
          await this.#unlinkSession(key, record);
          return this.#isLive(record);
        }),
      );
    });
  }

  lock(key: string, ttlMs: number): Promise<LockHandle | null> {
    return this.#ops.measure('lock', async () => {
      assertKey(this.name, key);
      if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
        throw new InvalidInputError(`a lock's ttlMs must be a number > 0, got ${String(ttlMs)}`, {
          scope: this.name,
        });
      }
      const token = randomUUID();
      let taken: FileRecord | 'missing' | 'held';
      try {
        taken = await this.#guard(() =>
          this.#locked(key, async () => {
            const record = await this.#read(key);
            if (!record || !this.#isLive(record)) return 'missing' as const;
            const now = this.clock.now();
            if (record.lock && record.lock.until > now) return 'held' as const;
            record.lock = { token, until: now + ttlMs };
            await this.#write(key, record);
            return record;
          }),
        );
      } catch (err) {
        // The lock file stayed busy past lockWaitMs: as good as held; the caller retries.
        if ((err as { code?: string }).code === 'BATON_LOCK_TIMEOUT') return null;
        throw err;
      }
      if (taken === 'held') return null;
      if (taken === 'missing') return { token, session: null, release: async () => {} };
      let released = false;
      const release = async (): Promise<void> => {
        if (released) return;
        await this.#ops.measure('unlock', () =>
          this.#guard(() =>
            this.#locked(key, async () => {
              const record = await this.#read(key);
              if (record?.lock?.token !== token) return;
              delete record.lock;
              await this.#write(key, record);
            }),
          ),
        );
        released = true;
      };
      return { token, session: toStored(taken), release };
    });
  }

  /**
   * The live sessions of one user, from the per-user directory of entries. Entries whose
   * session is gone or now belongs to someone else are removed on the way.
   */
  listByUser(userId: string): Promise<SessionSummary[]> {
    return this.#ops.measure('listByUser', async () => {
      assertUserId(this.name, userId);
      return this.#guard(async () => {
        const userDir = join(this.#users, hash(userId));
        let names: string[];
        try {
          names = await readdir(userDir);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
          throw err;
        }
        const out: SessionSummary[] = [];
        for (const name of names.sort()) {
          const record = await this.#readPath(this.#pathOfHash(name));
          if (record && record.userId === userId) {
            if (this.#isLive(record)) out.push(summarize(record.key, toStored(record)));
          } else if (!record || record.userId !== userId) {
            await unlinkQuietly(join(userDir, name));
          }
        }
        return out;
      });
    });
  }

  /** Every session, reading the directories entry by entry (`opendir`), in hash order. */
  async *scan(options: ScanOptions = {}): AsyncIterable<SessionSummary> {
    if (this.#closed) throw new StoreUnavailableError('the store is closed', { scope: this.name });
    let left = options.limit ?? Number.POSITIVE_INFINITY;
    for await (const { record } of this.#walk()) {
      if (left <= 0) return;
      if (!options.includeExpired && !this.#isLive(record)) continue;
      left--;
      yield summarize(record.key, toStored(record));
    }
  }

  /**
   * Sweeps the directory: deletes expired session files (re-checked under their lock), their
   * user index entries, index entries of sessions that are gone, and temporary files left by
   * crashed writers. `rate` bounds deletions per second.
   */
  gc(options: GcOptions = {}): Promise<{ deleted: number; scanned: number }> {
    return this.#ops.measure('gc', async () => {
      const rate = options.rate;
      if (rate !== undefined && (!Number.isFinite(rate) || rate <= 0)) {
        throw new InvalidInputError(`gc rate must be a number > 0, got ${String(rate)}`, {
          scope: this.name,
        });
      }
      return this.#guard(async () => {
        const started = performance.now();
        let scanned = 0;
        let deleted = 0;
        for await (const { record } of this.#walk(true)) {
          scanned++;
          if (!this.#isLive(record)) {
            if (!options.dryRun) {
              const gone = await this.#locked(record.key, async () => {
                const current = await this.#read(record.key);
                if (!current || this.#isLive(current)) return false;
                await this.#unlinkSession(record.key, current);
                return true;
              });
              if (!gone) continue;
              if (rate !== undefined) {
                const ahead = ((deleted + 1) / rate) * 1000 - (performance.now() - started);
                if (ahead > 0) await sleep(ahead);
              }
            }
            deleted++;
          }
          if (scanned % 100 === 0) options.onProgress?.({ scanned, deleted });
        }
        if (!options.dryRun) await this.#sweepUserIndex();
        options.onProgress?.({ scanned, deleted });
        return { deleted, scanned };
      });
    });
  }

  onOperation(listener: OperationListener): () => void {
    return this.#ops.subscribe(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  // --- files -------------------------------------------------------------------------------

  #pathOfHash(h: string): string {
    return join(this.#sessions, h.slice(0, 2), `${h}.json`);
  }

  #path(key: string): string {
    return this.#pathOfHash(hash(key));
  }

  #locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreUnavailableError('the store is closed', { scope: this.name });
    return withLockFile(
      `${this.#path(key)}.lock`,
      { staleMs: this.#lockStaleMs, waitMs: this.#lockWaitMs, scope: this.name, now: this.#now },
      fn,
    );
  }

  async #read(key: string): Promise<FileRecord | null> {
    if (this.#closed) throw new StoreUnavailableError('the store is closed', { scope: this.name });
    const record = await this.#readPath(this.#path(key));
    // Another key with the same sha256 would be a first; refuse to mix them up all the same.
    return record && record.key === key ? record : null;
  }

  async #readPath(path: string): Promise<FileRecord | null> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      return JSON.parse(text) as FileRecord;
    } catch (err) {
      throw new StoreUnavailableError(`the session file ${path} is not valid JSON`, {
        scope: this.name,
        cause: err,
      });
    }
  }

  /** Write to a temporary file, fsync, rename over the session file, fsync the directory. */
  async #write(key: string, record: FileRecord): Promise<void> {
    const path = this.#path(key);
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    const text = JSON.stringify(record);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(tmp, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(dirname(path), { recursive: true });
      handle = await open(tmp, 'wx');
    }
    try {
      try {
        await handle.writeFile(text);
        if (this.#fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, path);
    } catch (err) {
      await unlinkQuietly(tmp);
      throw err;
    }
    if (this.#fsync) await syncDir(dirname(path));
  }

  async #unlinkSession(key: string, record: FileRecord): Promise<void> {
    await unlinkQuietly(this.#path(key));
    if (this.#fsync) await syncDir(dirname(this.#path(key)));
    if (record.userId !== undefined) await this.#removeUserEntry(record.userId, key);
  }

  async #addUserEntry(userId: string, key: string): Promise<void> {
    const userDir = join(this.#users, hash(userId));
    await mkdir(userDir, { recursive: true });
    const handle = await open(join(userDir, hash(key)), 'w');
    await handle.close();
  }

  async #removeUserEntry(userId: string, key: string): Promise<void> {
    await unlinkQuietly(join(this.#users, hash(userId), hash(key)));
  }

  /** Session records under `sessions/`, directory by directory, entry by entry. */
  async *#walk(cleanTmp = false): AsyncIterable<{ record: FileRecord }> {
    let shards: string[];
    try {
      shards = (await readdir(this.#sessions)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const shard of shards) {
      let dir: Awaited<ReturnType<typeof opendir>>;
      try {
        dir = await opendir(join(this.#sessions, shard), { bufferSize: 64 });
      } catch (err) {
        if (
          (err as NodeJS.ErrnoException).code === 'ENOENT' ||
          (err as NodeJS.ErrnoException).code === 'ENOTDIR'
        ) {
          continue;
        }
        throw err;
      }
      for await (const entry of dir) {
        const path = join(this.#sessions, shard, entry.name);
        if (entry.name.endsWith('.json')) {
          const record = await this.#readPath(path);
          if (record) yield { record };
        } else if (cleanTmp && /\.(tmp|stale|lock)$/.test(entry.name)) {
          // Leftovers of crashed processes. A lock file this old is stale by any setting; a
          // live one is never more than lockStaleMs old.
          const info = await stat(path).catch(() => null);
          const maxAge = Math.max(TMP_MAX_AGE_MS, 2 * this.#lockStaleMs);
          if (info && info.mtimeMs + maxAge < this.clock.now()) await unlinkQuietly(path);
        }
      }
    }
  }

  /** Removes index entries whose session file is gone (or moved to another user). */
  async #sweepUserIndex(): Promise<void> {
    let users: string[];
    try {
      users = await readdir(this.#users);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const user of users) {
      const userDir = join(this.#users, user);
      const names = await readdir(userDir).catch(() => [] as string[]);
      for (const name of names) {
        const record = await this.#readPath(this.#pathOfHash(name));
        if (!record || record.userId === undefined || hash(record.userId) !== user) {
          await unlinkQuietly(join(userDir, name));
        }
      }
    }
  }

  readonly #now = (): number => this.clock.now();

  #isLive(record: FileRecord): boolean {
    const now = this.clock.now();
    return record.expiresAt > now && record.absoluteExpiresAt > now;
  }

  #checkSize(size: number, limit = this.limits.maxSessionBytes): void {
    if (size > limit) {
      throw new SessionTooLargeError(size, limit, { scope: this.name });
    }
  }

  /** File-system errors become StoreUnavailableError with the cause. */
  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isBatonError(err)) throw err;
      const { code, message } = err as NodeJS.ErrnoException;
      throw new StoreUnavailableError(
        `the session directory ${this.#dir} cannot be used: ${code ?? ''} ${message ?? String(err)}`.trim(),
        { scope: this.name, cause: err },
      );
    }
  }
}

function hash(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function toStored(record: FileRecord): StoredSession {
  const s: StoredSession = {
    data: record.data,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    absoluteExpiresAt: record.absoluteExpiresAt,
    version: record.version,
  };
  if (record.userId !== undefined) s.userId = record.userId;
  return s;
}

async function unlinkQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Makes a rename or unlink durable. Some systems cannot open directories: skip there. */
async function syncDir(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw err;
  } finally {
    await handle?.close();
  }
}

function positive(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new ConfigError(option, `must be a whole number > 0, got ${JSON.stringify(value)}`);
  }
  return value;
}
