import { randomUUID } from 'node:crypto';
import { SessionExistsError } from '../../core/errors.js';
import {
  applyRecordPatch,
  assertExpiry,
  assertKey,
  assertPatch,
  assertStoredSession,
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

export interface MemoryStoreOptions {
  /**
   * Largest session in bytes of key names plus JSON text.
   * @default 1048576 (1 MiB)
   */
  maxSize?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

interface Entry {
  session: StoredSession;
  lock?: { token: string; until: number };
}

/**
 * Sessions in this process's memory: for one-process apps, development and tests. A real store,
 * not a mock: expiry on read, versions, locks and the user index behave as in the others. It is
 * not shared between instances, so it is no answer for a cluster.
 */
export class MemoryStore implements Store {
  readonly name = 'memory';
  readonly limits: StoreLimits;
  readonly capabilities: StoreCapabilities = Object.freeze({
    lock: true,
    userIndex: true,
    scan: true,
    gc: true,
    ensureTable: false,
    serverTime: false,
    lockNotify: false,
  });
  readonly #entries = new Map<string, Entry>();
  readonly #guard = new StoreGuard('memory');
  readonly #now: () => number;

  constructor(options: MemoryStoreOptions = {}) {
    this.limits = { maxSessionBytes: options.maxSize ?? 1024 * 1024 };
    this.#now = options.now ?? Date.now;
  }

  /** Number of records held, expired ones included until `gc()` or a read removes them. */
  get size(): number {
    return this.#entries.size;
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (!isLive(entry.session, this.#now())) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  get(key: string): Promise<StoredSession | null> {
    return this.#guard.run('get', async () => {
      assertKey(this.name, key);
      const entry = this.#live(key);
      return entry ? structuredClone(entry.session) : null;
    });
  }

  create(key: string, session: StoredSession): Promise<void> {
    return this.#guard.run('create', async () => {
      assertKey(this.name, key);
      assertStoredSession(this.name, session);
      checkSize(this.name, session.data, this.limits.maxSessionBytes);
      if (this.#live(key)) throw new SessionExistsError({ scope: this.name });
      this.#entries.set(key, { session: structuredClone(session) });
    });
  }

  patch(key: string, patch: Patch): Promise<{ version: number } | null> {
    return this.#guard.run('patch', async () => {
      assertKey(this.name, key);
      assertPatch(this.name, patch);
      const entry = this.#live(key);
      if (!entry) return null;
      entry.session = applyRecordPatch(this.name, this.limits, entry.session, patch, entry.lock?.token);
      if (releasesLock(patch)) delete entry.lock;
      return { version: entry.session.version };
    });
  }

  touch(key: string, expiresAt: number): Promise<boolean> {
    return this.#guard.run('touch', async () => {
      assertKey(this.name, key);
      assertExpiry(this.name, expiresAt);
      const entry = this.#live(key);
      if (!entry) return false;
      entry.session.expiresAt = clampExpiry(expiresAt, entry.session.absoluteExpiresAt);
      return true;
    });
  }

  destroy(key: string): Promise<boolean> {
    return this.#guard.run('destroy', async () => {
      assertKey(this.name, key);
      const existed = this.#live(key) !== undefined;
      this.#entries.delete(key);
      return existed;
    });
  }

  lock(key: string, ttlMs: number): Promise<LockHandle | null> {
    return this.#guard.run('lock', async () => {
      assertKey(this.name, key);
      const entry = this.#live(key);
      const token = randomUUID();
      if (!entry) return { token, session: null, release: async () => {} };
      const now = this.#now();
      if (entry.lock && entry.lock.until > now) return null;
      entry.lock = { token, until: now + ttlMs };
      const release = async () => {
        const current = this.#entries.get(key);
        if (current?.lock?.token === token) delete current.lock;
      };
      return { token, session: structuredClone(entry.session), release };
    });
  }

  listByUser(userId: string): Promise<SessionSummary[]> {
    return this.#guard.run('listByUser', async () => {
      const out: SessionSummary[] = [];
      for (const key of [...this.#entries.keys()]) {
        const entry = this.#live(key);
        if (entry && entry.session.userId === userId) out.push(summarize(key, entry.session));
      }
      return out;
    });
  }

  async *scan(options: ScanOptions = {}): AsyncIterable<SessionSummary> {
    this.#guard.assertOpen();
    let n = 0;
    for (const [key, entry] of [...this.#entries]) {
      if (options.limit !== undefined && n >= options.limit) return;
      if (!options.includeExpired && !isLive(entry.session, this.#now())) continue;
      n++;
      yield summarize(key, entry.session);
    }
  }

  gc(options: GcOptions = {}): Promise<{ deleted: number; scanned: number }> {
    return this.#guard.run('gc', async () => {
      let scanned = 0;
      let deleted = 0;
      const now = this.#now();
      for (const [key, entry] of [...this.#entries]) {
        scanned++;
        if (!isLive(entry.session, now)) {
          if (!options.dryRun) this.#entries.delete(key);
          deleted++;
        }
      }
      options.onProgress?.({ scanned, deleted });
      return { deleted, scanned };
    });
  }

  onOperation(listener: OperationListener): () => void {
    return this.#guard.subscribe(listener);
  }

  /** Later calls fail with `StoreUnavailableError`, as on every store. The records are kept. */
  async close(): Promise<void> {
    this.#guard.close();
  }
}
