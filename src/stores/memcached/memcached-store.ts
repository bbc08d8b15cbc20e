import { createHash, randomUUID } from 'node:crypto';
import {
  ConfigError,
  ConflictError,
  InvalidInputError,
  isBatonError,
  NotSupportedError,
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
  clampExpiry,
  dataSize,
  OperationReporter,
  patchLimit,
  sleep,
} from '../kit/index.js';
import type {
  LockHandle,
  OperationListener,
  Patch,
  SessionSummary,
  Store,
  StoreCapabilities,
  StoredSession,
  StoreLimits,
} from '../store.js';
import { decodeRecord, encodeRecord, exptime, type SessionRecord } from './record.js';

/** The part of a `memcache-client` MemcacheClient the store uses. */
export interface MemcachedClient {
  get(key: string): Promise<{ value: unknown } | undefined>;
  gets(key: string): Promise<{ value: unknown; casUniq: number | string } | undefined>;
  add(key: string, value: string, options: { lifetime: number }): Promise<unknown>;
  cas(key: string, value: string, options: { lifetime: number; casUniq: number | string }): Promise<unknown>;
  delete(key: string): Promise<unknown>;
  /** A raw command (`stats`), for the server's clock. */
  cmd?(data: string): Promise<unknown>;
  shutdown(): void;
}

export interface MemcachedStoreOptions {
  /**
   * Memcached servers as `host:port`. Each session lives on one of them, picked by its key
   * (rendezvous hashing: adding or removing a server moves only that server's share).
   * The store makes one `memcache-client` client per server and closes them on `close()`.
   * @default ['127.0.0.1:11211']
   */
  servers?: string[];
  /**
   * A `memcache-client` MemcacheClient you made (for one server). It stays open on `close()`.
   * memjs has no `gets`/`cas`, which the store needs, so it is not accepted.
   */
  client?: MemcachedClient;
  /**
   * Start of every item key. Keys (prefix + session key) must be at most 250 bytes of printable
   * ASCII (the text protocol's limit).
   * @default 'sess:'
   */
  prefix?: string;
  /**
   * Largest session in bytes of key names plus JSON text. Memcached refuses items over its
   * item size (1 MiB by default, `-I` raises it); the default leaves room for the header.
   * @default 1000000
   */
  maxSize?: number;
  /**
   * Largest item the server takes (its `-I`), header and key included.
   * @default 1048576
   */
  itemSizeLimit?: number;
  /**
   * Compare-and-swap attempts for one write before it fails with `StoreUnavailableError`.
   * Concurrent writes to one session retry with a growing, jittered pause.
   * @default 100
   */
  casRetries?: number;
  /**
   * Longest wait for one command (a hung server becomes a 503, not a hung request).
   * @default 2000
   */
  commandTimeoutMs?: number;
  /**
   * Longest wait to connect to a server.
   * @default 1000
   */
  connectTimeoutMs?: number;
  /**
   * Which clock decides expiry: `'store'` reads the first server's (`stats` `time`, 1 s
   * resolution) once a minute and corrects this machine's by the difference; `'local'` uses this
   * machine's as is. See the README.
   * @default 'store'
   */
  clock?: ClockOption;
}

const NAME = 'memcached';
const OTHERS = 'DynamoDB, Redis, PostgreSQL, MySQL, file or memory';

/** memcache-client rejects these replies as errors; they are outcomes, not failures. */
const OUTCOMES = new Set(['NOT_STORED', 'EXISTS', 'NOT_FOUND']);

/** What a CAS step decides: write this record (or delete), and answer this. */
type Step<T> = { write?: SessionRecord; remove?: true; result: T };

/**
 * Sessions in Memcached: one item per session (the whole record), written with compare-and-swap
 * loops so merge, strict and lock modes behave as in the other stores. Memcached neither
 * persists nor lists: a restart or an eviction logs users out, and there is no user index or
 * scan. Expiry is checked on every read.
 */
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
  readonly #prefix: string;
  readonly #servers: string[];
  readonly #itemSizeLimit: number;
  readonly #casRetries: number;
  readonly #commandTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #ops = new OperationReporter(NAME);
  #clients: MemcachedClient[] | undefined;
  #opening: Promise<MemcachedClient[]> | undefined;
  readonly #owned: boolean;
  #closed = false;
  /** The first server's clock: every expiry decision and every relative exptime sent. */
  readonly clock: SyncedClock;

  constructor(options: MemcachedStoreOptions = {}) {
    if (options.client !== undefined) {
      const c = options.client as unknown as Record<string, unknown>;
      if (typeof c?.gets !== 'function' || typeof c.cas !== 'function') {
        throw new ConfigError(
          'client',
          'expected a memcache-client MemcacheClient (a client with gets and cas; memjs has no cas)',
          { scope: NAME },
        );
      }
      if (options.servers !== undefined) {
        throw new ConfigError('servers', 'give `servers` or `client`, not both', { scope: NAME });
      }
      this.#clients = [options.client];
    }
    this.#owned = options.client === undefined;
    this.#servers = options.servers ?? ['127.0.0.1:11211'];
    if (
      !Array.isArray(this.#servers) ||
      this.#servers.length === 0 ||
      this.#servers.some((s) => typeof s !== 'string' || !/^[^\s:]+:\d+$/.test(s))
    ) {
      throw new ConfigError('servers', 'must be a non-empty list of "host:port" strings', { scope: NAME });
    }
    this.#prefix = options.prefix ?? 'sess:';
    if (typeof this.#prefix !== 'string' || !/^[\x21-\x7e]*$/.test(this.#prefix)) {
      throw new ConfigError('prefix', 'must be printable ASCII without spaces', { scope: NAME });
    }
    this.limits = { maxSessionBytes: positive('maxSize', options.maxSize ?? 1_000_000) };
    this.#itemSizeLimit = positive('itemSizeLimit', options.itemSizeLimit ?? 1024 * 1024);
    this.#casRetries = positive('casRetries', options.casRetries ?? 100);
    this.#commandTimeoutMs = positive('commandTimeoutMs', options.commandTimeoutMs ?? 2_000);
    this.#connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs ?? 1_000);
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
    const client = (await this.#open())[0] as MemcachedClient;
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
    return `${this.#prefix}${key}`;
  }

  get(key: string): Promise<StoredSession | null> {
    return this.#run(
      'get',
      async (client) => {
        const item = await client.get(this.#itemKey(key));
        return item === undefined ? null : (live(item.value, this.clock.now())?.session ?? null);
      },
      key,
    );
  }

  create(key: string, session: StoredSession): Promise<void> {
    return this.#run(
      'create',
      async (client) => {
        assertStoredSession(NAME, session);
        this.#checkSize(session.data);
        const itemKey = this.#itemKey(key);
        const record: SessionRecord = { session: { ...session, data: { ...session.data } } };
        const value = this.#encode(record);
        const lifetime = () =>
          exptime(clampExpiry(session.expiresAt, session.absoluteExpiresAt), this.clock.now());
        for (let attempt = 0; attempt < this.#casRetries; attempt++) {
          if (await outcome(client.add(itemKey, value, { lifetime: lifetime() }))) return;
          // Something is there: a live session, or one past its expiry that Memcached (whole
          // seconds) has not dropped yet, which a new session may replace.
          const current = await client.gets(itemKey);
          if (current === undefined) continue;
          if (live(current.value, this.clock.now())) throw new SessionExistsError({ scope: NAME });
          if (await outcome(client.cas(itemKey, value, { lifetime: lifetime(), casUniq: current.casUniq })))
            return;
          await backoff(attempt);
        }
        throw this.#contended();
      },
      key,
    );
  }

  patch(key: string, patch: Patch): Promise<{ version: number } | null> {
    return this.#run(
      'patch',
      async (client) => {
        assertPatch(NAME, patch);
        return this.#update(client, key, (record) => {
          if (!record) return { result: null };
          const s = record.session;
          if (patch.expectVersion !== undefined && patch.expectVersion !== s.version) {
            throw new ConflictError(undefined, { scope: NAME });
          }
          if (patch.lockToken !== undefined && record.lock?.token !== patch.lockToken) {
            throw new ConflictError(
              'the lock on this session was lost (it expired and another request took it)',
              {
                scope: NAME,
              },
            );
          }
          const data = applyPatchData(s.data, patch);
          this.#checkSize(data, patchLimit(this.limits, patch));
          const next: SessionRecord = {
            session: {
              ...s,
              data,
              expiresAt: clampExpiry(patch.expiresAt, s.absoluteExpiresAt),
              version: s.version + 1,
            },
          };
          if (patch.userId === null) delete next.session.userId;
          else if (patch.userId !== undefined) next.session.userId = patch.userId;
          if (record.lock && !(patch.lockToken !== undefined && patch.releaseLock)) next.lock = record.lock;
          return { write: next, result: { version: next.session.version } };
        });
      },
      key,
    );
  }

  touch(key: string, expiresAt: number): Promise<boolean> {
    return this.#run(
      'touch',
      async (client) => {
        assertExpiry(NAME, expiresAt);
        return this.#update(client, key, (record) => {
          if (!record) return { result: false };
          const next: SessionRecord = {
            ...record,
            session: {
              ...record.session,
              expiresAt: clampExpiry(expiresAt, record.session.absoluteExpiresAt),
            },
          };
          return { write: next, result: true };
        });
      },
      key,
    );
  }

  destroy(key: string): Promise<boolean> {
    return this.#run(
      'destroy',
      async (client) => {
        const itemKey = this.#itemKey(key);
        const current = await client.get(itemKey);
        // Only the delete that found the item counts: of two concurrent destroys (two regenerates of
        // one session) exactly one sees DELETED, so exactly one carries the data to a new id.
        const deleted = await outcome(client.delete(itemKey));
        return deleted && current !== undefined && live(current.value, this.clock.now()) !== null;
      },
      key,
    );
  }

  lock(key: string, ttlMs: number): Promise<LockHandle | null> {
    return this.#run(
      'lock',
      async (client) => {
        const token = randomUUID();
        const taken = await this.#update(client, key, (record): Step<SessionRecord | null | 'held'> => {
          if (!record) return { result: null };
          const now = this.clock.now();
          if (record.lock && record.lock.until > now) return { result: 'held' };
          const next: SessionRecord = { ...record, lock: { token, until: now + ttlMs } };
          return { write: next, result: next };
        });
        if (taken === 'held') return null;
        if (taken === null) return { token, session: null, release: async () => {} };
        let released = false;
        const release = async () => {
          if (released) return;
          await this.#run(
            'unlock',
            (c) =>
              this.#update(c, key, (record) => {
                if (record?.lock?.token !== token) return { result: undefined };
                return { write: { session: record.session }, result: undefined };
              }),
            key,
          );
          released = true;
        };
        return { token, session: taken.session, release };
      },
      key,
    );
  }

  /** Memcached cannot list items: there is no user index. */
  async listByUser(_userId: string): Promise<SessionSummary[]> {
    throw new NotSupportedError(
      `Memcached cannot list sessions, so it has no per-user index ("log out everywhere"); use the ${OTHERS} store for that`,
      { scope: NAME },
    );
  }

  /** Memcached cannot list items: there is no scan. */
  // biome-ignore lint/correctness/useYield: it refuses before the first item
  async *scan(): AsyncIterable<SessionSummary> {
    throw new NotSupportedError(
      `Memcached cannot list sessions (no scan, stats or migrate); use the ${OTHERS} store for that`,
      { scope: NAME },
    );
  }

  onOperation(listener: OperationListener): () => void {
    return this.#ops.subscribe(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#owned) return;
    const clients = this.#clients ?? (await this.#opening?.catch(() => undefined));
    for (const client of clients ?? []) client.shutdown();
  }

  // --- internals ---

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

  #checkSize(data: Record<string, string>, limit = this.limits.maxSessionBytes): void {
    const size = dataSize(data);
    if (size > limit) {
      throw new SessionTooLargeError(size, limit, { scope: NAME });
    }
  }

  #encode(record: SessionRecord): string {
    const value = encodeRecord(record);
    const bytes = Buffer.byteLength(value);
    // Memcached refuses items over its item size (-I, 1 MiB by default), key and header included.
    if (bytes + 300 > this.#itemSizeLimit) {
      throw new SessionTooLargeError(bytes, this.#itemSizeLimit - 300, { scope: NAME });
    }
    return value;
  }

  #contended(): StoreUnavailableError {
    return new StoreUnavailableError(
      `the session changed under ${this.#casRetries} compare-and-swap attempts in a row (casRetries); try again`,
      { scope: NAME },
    );
  }

  /**
   * gets → decide → cas, until the cas lands. `step` sees the live record (or null) and says
   * what to write; a record changed in between (EXISTS) or deleted (NOT_FOUND) is read again.
   */
  async #update<T>(
    client: MemcachedClient,
    key: string,
    step: (record: SessionRecord | null) => Step<T>,
  ): Promise<T> {
    const itemKey = this.#itemKey(key);
    for (let attempt = 0; attempt < this.#casRetries; attempt++) {
      const current = await client.gets(itemKey);
      const record = current === undefined ? null : live(current.value, this.clock.now());
      const decided = step(record);
      if (!decided.write || current === undefined) return decided.result;
      const s = decided.write.session;
      const value = this.#encode(decided.write);
      const lifetime = exptime(clampExpiry(s.expiresAt, s.absoluteExpiresAt), this.clock.now());
      if (await outcome(client.cas(itemKey, value, { lifetime, casUniq: current.casUniq }))) {
        return decided.result;
      }
      await backoff(attempt);
    }
    throw this.#contended();
  }

  async #open(): Promise<MemcachedClient[]> {
    if (this.#closed) throw new StoreUnavailableError('the store is closed', { scope: NAME });
    if (this.#clients) return this.#clients;
    this.#opening ??= (async () => {
      let mod: Record<string, unknown>;
      try {
        mod = (await import('memcache-client')) as Record<string, unknown>;
      } catch (cause) {
        throw new ConfigError('servers', 'install `memcache-client` to connect to Memcached', {
          scope: NAME,
          cause,
        });
      }
      const MemcacheClient = (mod.MemcacheClient ??
        (mod.default as Record<string, unknown> | undefined)?.MemcacheClient) as new (
        options: Record<string, unknown>,
      ) => MemcachedClient;
      this.#clients = this.#servers.map(
        (server) =>
          new MemcacheClient({
            server,
            cmdTimeout: this.#commandTimeoutMs,
            connectTimeout: this.#connectTimeoutMs,
            noDelay: true,
          }),
      );
      return this.#clients;
    })();
    return this.#opening;
  }

  /** The client of the server that holds `key` (rendezvous hashing). */
  #pick(clients: MemcachedClient[], key: string): MemcachedClient {
    if (clients.length === 1) return clients[0] as MemcachedClient;
    let best = 0;
    let bestScore = -1;
    this.#servers.forEach((server, i) => {
      const score = createHash('sha1').update(`${server}\n${key}`).digest().readUInt32BE(0);
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    });
    return clients[best] as MemcachedClient;
  }

  #run<T>(op: string, fn: (client: MemcachedClient) => Promise<T>, key: string): Promise<T> {
    return this.#ops.measure(op, async () => {
      assertKey(NAME, key);
      this.#itemKey(key);
      try {
        const clients = await this.#open();
        return await fn(this.#pick(clients, key));
      } catch (err) {
        if (isBatonError(err)) throw err;
        const message = err instanceof Error ? err.message : String(err);
        throw new StoreUnavailableError(`Memcached call failed: ${message}`, { scope: NAME, cause: err });
      }
    });
  }
}

function positive(option: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(option, `must be a number > 0, got ${String(value)}`, { scope: NAME });
  }
  return value;
}

/** The record in an item when it is one of ours and not past its expiry, else null. */
function live(value: unknown, now: number): SessionRecord | null {
  if (typeof value !== 'string') return null;
  const record = decodeRecord(value);
  if (!record) return null;
  const s = record.session;
  return s.expiresAt <= now || s.absoluteExpiresAt <= now ? null : record;
}

/** true when a store command was applied, false on NOT_STORED / EXISTS / NOT_FOUND. */
async function outcome(command: Promise<unknown>): Promise<boolean> {
  try {
    await command;
    return true;
  } catch (err) {
    if (OUTCOMES.has((err as Error)?.message)) return false;
    throw err;
  }
}

/** A pause that grows with the attempt, jittered so contenders spread out. */
function backoff(attempt: number): Promise<void> {
  return sleep(Math.random() * Math.min(2 ** attempt, 50));
}
