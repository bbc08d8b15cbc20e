/**
 * Sessions as files under one directory, for a single server or several sharing an NFS mount.
 * The layout and the atomic write are in `records.ts`; `scan`/`gc` in `sweep.ts`. Every
 * read-modify-write (create, patch, touch, destroy, lock, unlock) holds the session's lock file,
 * and applies the kit's record rules inside it.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SessionExistsError } from '../../core/errors.js';
import { resolveClockOptions, SyncedClock } from '../clock.js';
import {
  applyRecordPatch,
  assertExpiry,
  assertGcRate,
  assertKey,
  assertLockTtl,
  assertPatch,
  assertStoredSession,
  assertUserId,
  checkSize,
  clampExpiry,
  isLive,
  releasesLock,
  StoreGuard,
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
import { type FileSettings, type FileStoreOptions, fileSettings } from './options.js';
import { type FileRecord, SessionFiles, toRecord, toStored, unlinkQuietly } from './records.js';
import { gcFiles, type SweepContext, scanFiles } from './sweep.js';

export type { FileStoreOptions } from './options.js';

const NAME = 'file';

export class FileStore implements Store {
  readonly name = NAME;
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
  readonly #settings: FileSettings;
  readonly #files: SessionFiles;
  readonly #guard: StoreGuard;
  /** The file server's clock: every expiry decision, lock expiry and leftover's age. */
  readonly clock: SyncedClock;

  constructor(options: FileStoreOptions) {
    this.#settings = fileSettings(options);
    this.limits = { maxSessionBytes: this.#settings.maxSize };
    const dir = this.#settings.dir;
    this.#guard = new StoreGuard(NAME, {
      describeFailure: (err) => {
        const { code, message } = err as NodeJS.ErrnoException;
        return `the session directory ${dir} cannot be used: ${code ?? ''} ${message ?? String(err)}`.trim();
      },
    });
    this.#files = new SessionFiles(this.#settings, this.#now, () => this.#guard.assertOpen());
    this.clock = new SyncedClock(() => this.serverTime(), {
      ...resolveClockOptions(options.clock, NAME),
      // Kernel file times tick every few ms; an NFS server's may be coarser (see docs/file.md).
      resolutionMs: 10,
      scope: NAME,
    });
  }

  /**
   * The file server's clock, in ms since the epoch: the mtime it gives `<dir>/clock` when that is
   * written (on NFS the server sets it; locally it is this kernel's clock). Not reported as an
   * operation.
   */
  async serverTime(): Promise<number> {
    try {
      const path = join(this.#settings.dir, 'clock');
      await mkdir(this.#settings.dir, { recursive: true });
      const handle = await open(path, 'w');
      try {
        await handle.writeFile(String(process.pid));
        return (await handle.stat()).mtimeMs;
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw this.#guard.wrap(err);
    }
  }

  /** Creates the directories (idempotent). Writes create them too; this checks access early. */
  ensureTable(): Promise<void> {
    return this.#guard.run('ensureTable', async () => {
      await mkdir(this.#files.sessions, { recursive: true });
      await mkdir(this.#files.users, { recursive: true });
    });
  }

  get(key: string): Promise<StoredSession | null> {
    return this.#guard.run('get', async () => {
      assertKey(NAME, key);
      const record = await this.#files.read(key);
      return record && this.#isLive(record) ? toStored(record) : null;
    });
  }

  create(key: string, session: StoredSession): Promise<void> {
    return this.#guard.run('create', async () => {
      assertKey(NAME, key);
      assertStoredSession(NAME, session);
      checkSize(NAME, session.data, this.limits.maxSessionBytes);
      await this.#files.locked(key, async () => {
        const existing = await this.#files.read(key);
        if (existing && this.#isLive(existing)) throw new SessionExistsError({ scope: NAME });
        const record = toRecord(key, {
          ...session,
          data: { ...session.data },
          expiresAt: clampExpiry(session.expiresAt, session.absoluteExpiresAt),
        });
        // The index entry goes first: a crash between leaves an entry listByUser skips,
        // never a session the index misses.
        if (record.userId !== undefined) await this.#files.addUserEntry(record.userId, key);
        await this.#files.write(key, record);
      });
    });
  }

  patch(key: string, patch: Patch): Promise<{ version: number } | null> {
    return this.#guard.run('patch', async () => {
      assertKey(NAME, key);
      assertPatch(NAME, patch);
      return this.#files.locked(key, async () => {
        const record = await this.#files.read(key);
        if (!record || !this.#isLive(record)) return null;
        const next = applyRecordPatch(NAME, this.limits, toStored(record), patch, record.lock?.token);
        const written = toRecord(key, next, releasesLock(patch) ? undefined : record.lock);
        const previousUser = record.userId;
        if (written.userId !== undefined && written.userId !== previousUser) {
          await this.#files.addUserEntry(written.userId, key);
        }
        await this.#files.write(key, written);
        if (previousUser !== undefined && previousUser !== written.userId) {
          await this.#files.removeUserEntry(previousUser, key);
        }
        return { version: written.version };
      });
    });
  }

  touch(key: string, expiresAt: number): Promise<boolean> {
    return this.#guard.run('touch', async () => {
      assertKey(NAME, key);
      assertExpiry(NAME, expiresAt);
      return this.#files.locked(key, async () => {
        const record = await this.#files.read(key);
        if (!record || !this.#isLive(record)) return false;
        record.expiresAt = clampExpiry(expiresAt, record.absoluteExpiresAt);
        await this.#files.write(key, record);
        return true;
      });
    });
  }

  destroy(key: string): Promise<boolean> {
    return this.#guard.run('destroy', async () => {
      assertKey(NAME, key);
      return this.#files.locked(key, async () => {
        const record = await this.#files.read(key);
        if (!record) return false;
        await this.#files.unlinkSession(key, record);
        return this.#isLive(record);
      });
    });
  }

  lock(key: string, ttlMs: number): Promise<LockHandle | null> {
    return this.#guard.run('lock', async () => {
      assertKey(NAME, key);
      assertLockTtl(NAME, ttlMs);
      const token = randomUUID();
      let taken: FileRecord | 'missing' | 'held';
      try {
        taken = await this.#files.locked(key, async () => {
          const record = await this.#files.read(key);
          if (!record || !this.#isLive(record)) return 'missing' as const;
          const now = this.clock.now();
          if (record.lock && record.lock.until > now) return 'held' as const;
          record.lock = { token, until: now + ttlMs };
          await this.#files.write(key, record);
          return record;
        });
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
        await this.#guard.run('unlock', () =>
          this.#files.locked(key, async () => {
            const record = await this.#files.read(key);
            if (record?.lock?.token !== token) return;
            delete record.lock;
            await this.#files.write(key, record);
          }),
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
    return this.#guard.run('listByUser', async () => {
      assertUserId(NAME, userId);
      const userDir = this.#files.userDir(userId);
      let names: string[];
      try {
        names = await readdir(userDir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
      const out: SessionSummary[] = [];
      for (const name of names.sort()) {
        const record = await this.#files.readPath(this.#files.pathOfHash(name));
        if (record?.userId === userId) {
          if (this.#isLive(record)) out.push(summarize(record.key, toStored(record)));
        } else {
          await unlinkQuietly(join(userDir, name));
        }
      }
      return out;
    });
  }

  /** Every session, reading the directories entry by entry (`opendir`), in hash order. */
  async *scan(options: ScanOptions = {}): AsyncIterable<SessionSummary> {
    this.#guard.assertOpen();
    try {
      yield* scanFiles(this.#sweep(), options);
    } catch (err) {
      throw this.#guard.wrap(err);
    }
  }

  /**
   * Sweeps the directory: deletes expired session files (re-checked under their lock), their
   * user index entries, index entries of sessions that are gone, and temporary files left by
   * crashed writers. `rate` bounds deletions per second.
   */
  gc(options: GcOptions = {}): Promise<{ deleted: number; scanned: number }> {
    return this.#guard.run('gc', async () => {
      assertGcRate(NAME, options.rate);
      return gcFiles(this.#sweep(), options);
    });
  }

  onOperation(listener: OperationListener): () => void {
    return this.#guard.subscribe(listener);
  }

  async close(): Promise<void> {
    this.#guard.close();
  }

  #sweep(): SweepContext {
    return { files: this.#files, now: this.#now, lockStaleMs: this.#settings.lockStaleMs };
  }

  readonly #now = (): number => this.clock.now();

  #isLive(record: FileRecord): boolean {
    return isLive(record, this.clock.now());
  }
}
