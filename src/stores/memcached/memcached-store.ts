/**
 * Sessions in Memcached: one item per session (the whole record, `record.ts`), written with
 * compare-and-swap loops (`cas.ts`) that apply the kit's record rules, so merge, strict and lock
 * modes behave as in the other stores. Memcached neither persists nor lists: a restart or an
 * eviction logs users out, and there is no user index or scan (the capabilities say so and the
 * methods are absent). Expiry is checked on every read.
 */
import { randomUUID } from 'node:crypto';
import {
  InvalidInputError,
  NotSupportedError,
  SessionExistsError,
  StoreUnavailableError,
} from '../../core/errors.js';
import { resolveClockOptions, SyncedClock } from '../clock.js';
import {
  applyRecordPatch,
  assertExpiry,
  assertKey,
  assertLockTtl,
  assertPatch,
  assertStoredSession,
  checkSize,
  clampExpiry,
  releasesLock,
  StoreGuard,
} from '../kit/index.js';
import type {
  LockHandle,
  OperationListener,
  Patch,
  Store,
  StoreCapabilities,
  StoredSession,
  StoreLimits,
} from '../store.js';
import { type CasContext, casCreate, casUpdate, liveRecord, outcome, type Step } from './cas.js';
import {
  type MemcachedClient,
  type MemcachedSettings,
  type MemcachedStoreOptions,
  memcachedSettings,
  NAME,
} from './options.js';
import type { SessionRecord } from './record.js';
import { MemcachedServers } from './servers.js';

export type { MemcachedClient, MemcachedStoreOptions } from './options.js';

export class MemcachedStore implements Store {
  readonly name = NAME;
  readonly limits: StoreLimits;
  readonly capabilities: StoreCapabilities = Object.freeze({
    lock: true,
    userIndex: false,
    scan: false,
    gc: false,
    ensureTable: false,
    serverTime: true,
    lockNotify: false,
  });
  readonly #settings: MemcachedSettings;
  readonly #servers: MemcachedServers;
  readonly #guard = new StoreGuard(NAME, {
    describeFailure: (err) => `Memcached call failed: ${err instanceof Error ? err.message : String(err)}`,
  });
  /** The first server's clock: every expiry decision and every relative exptime sent. */
  readonly clock: SyncedClock;

  constructor(options: MemcachedStoreOptions = {}) {
    this.#settings = memcachedSettings(options);
    this.#servers = new MemcachedServers(this.#settings);
    this.limits = { maxSessionBytes: this.#settings.maxSize };
    // memcached's `time` is its start time (whole seconds) plus the whole seconds of its monotonic
    // clock since, refreshed by a once-a-second tick: on a machine in time it reads between about
    // 3 s behind and 1 s ahead of the wall clock (CI saw 1.3 s behind and 0.35 s ahead).
    this.clock = new SyncedClock(() => this.serverTime(), {
      ...resolveClockOptions(options.clock, NAME),
      resolutionMs: 3000,
      leadMs: 1000,
      scope: NAME,
    });
  }

  /**
   * The first server's clock (`stats` → `time`, whole seconds), in ms since the epoch. Not
   * reported as an operation.
   */
  async serverTime(): Promise<number> {
    this.#guard.assertOpen();
    const client = (await this.#servers.open())[0] as MemcachedClient;
    if (typeof client.cmd !== 'function') {
      throw new NotSupportedError('this Memcached client cannot send `stats`', { scope: NAME });
    }
    const reply = (await client.cmd('stats')) as { STAT?: [string, string][] } | undefined;
    const time = reply?.STAT?.find(([name]) => name === 'time')?.[1];
    if (time === undefined) throw new StoreUnavailableError('`stats` had no `time`', { scope: NAME });
    return Number(time) * 1000;
  }

  /** The Memcached key of a session. */
  itemKey(key: string): string {
    return `${this.#settings.prefix}${key}`;
  }

  get(key: string): Promise<StoredSession | null> {
    return this.#run('get', key, async ({ client, itemKey, now }) => {
      const item = await client.get(itemKey);
      return item === undefined ? null : (liveRecord(item.value, now())?.session ?? null);
    });
  }

  create(key: string, session: StoredSession): Promise<void> {
    return this.#run('create', key, async (ctx) => {
      assertStoredSession(NAME, session);
      checkSize(NAME, session.data, this.limits.maxSessionBytes);
      const record: SessionRecord = { session: { ...session, data: { ...session.data } } };
      if (!(await casCreate(ctx, record))) throw new SessionExistsError({ scope: NAME });
    });
  }

  patch(key: string, patch: Patch): Promise<{ version: number } | null> {
    return this.#run('patch', key, (ctx) => {
      assertPatch(NAME, patch);
      return casUpdate(ctx, (record) => {
        if (!record) return { result: null };
        const session = applyRecordPatch(NAME, this.limits, record.session, patch, record.lock?.token);
        const next: SessionRecord = { session };
        if (record.lock && !releasesLock(patch)) next.lock = record.lock;
        return { write: next, result: { version: session.version } };
      });
    });
  }

  touch(key: string, expiresAt: number): Promise<boolean> {
    return this.#run('touch', key, (ctx) => {
      assertExpiry(NAME, expiresAt);
      return casUpdate(ctx, (record) => {
        if (!record) return { result: false };
        const expiry = clampExpiry(expiresAt, record.session.absoluteExpiresAt);
        return { write: { ...record, session: { ...record.session, expiresAt: expiry } }, result: true };
      });
    });
  }

  destroy(key: string): Promise<boolean> {
    return this.#run('destroy', key, async ({ client, itemKey, now }) => {
      const current = await client.get(itemKey);
      // Only the delete that found the item counts: of two concurrent destroys (two regenerates of
      // one session) exactly one sees DELETED, so exactly one carries the data to a new id.
      const deleted = await outcome(client.delete(itemKey));
      return deleted && current !== undefined && liveRecord(current.value, now()) !== null;
    });
  }

  lock(key: string, ttlMs: number): Promise<LockHandle | null> {
    return this.#run('lock', key, async (ctx) => {
      assertLockTtl(NAME, ttlMs);
      const token = randomUUID();
      const taken = await casUpdate(ctx, (record): Step<SessionRecord | null | 'held'> => {
        if (!record) return { result: null };
        const now = ctx.now();
        if (record.lock && record.lock.until > now) return { result: 'held' };
        const next: SessionRecord = { ...record, lock: { token, until: now + ttlMs } };
        return { write: next, result: next };
      });
      if (taken === 'held') return null;
      if (taken === null) return { token, session: null, release: async () => {} };
      let released = false;
      const release = async () => {
        if (released) return;
        await this.#run('unlock', key, (c) =>
          casUpdate(c, (record) => {
            if (record?.lock?.token !== token) return { result: undefined };
            return { write: { session: record.session }, result: undefined };
          }),
        );
        released = true;
      };
      return { token, session: taken.session, release };
    });
  }

  onOperation(listener: OperationListener): () => void {
    return this.#guard.subscribe(listener);
  }

  async close(): Promise<void> {
    if (this.#guard.close()) await this.#servers.close();
  }

  /** One call: key checks, the server holding the key, the kit's guard around it. */
  #run<T>(op: string, key: string, fn: (ctx: CasContext) => Promise<T>): Promise<T> {
    return this.#guard.run(op, async () => {
      assertKey(NAME, key);
      const itemKey = this.#itemKey(key);
      const client = this.#servers.pick(await this.#servers.open(), key);
      const { casRetries, itemSizeLimit } = this.#settings;
      return fn({ client, itemKey, now: this.#now, casRetries, itemSizeLimit });
    });
  }

  readonly #now = (): number => this.clock.now();

  #itemKey(key: string): string {
    const itemKey = this.itemKey(key);
    // The text protocol's key: at most 250 bytes, no spaces or control characters.
    if (itemKey.length > 250 || !/^[\x21-\x7e]+$/.test(itemKey)) {
      throw new InvalidInputError(
        `a Memcached key must be at most 250 characters of printable ASCII without spaces, got ${JSON.stringify(
          key.length > 40 ? `${key.slice(0, 40)}…` : key,
        )} (${itemKey.length} with the prefix)`,
        { scope: NAME },
      );
    }
    return itemKey;
  }
}
