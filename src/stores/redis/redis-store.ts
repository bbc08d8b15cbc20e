import { randomUUID } from 'node:crypto';
import { SessionExistsError, SessionTooLargeError } from '../../core/errors.js';
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
} from '../../core/store.js';
import { resolveClockOptions, SyncedClock } from '../clock.js';
import {
  assertExpiry,
  assertKey,
  assertPatch,
  assertStoredSession,
  assertUserId,
  dataSize,
  lockLost,
  OperationReporter,
  patchLimit,
  staleKeys,
  versionConflict,
} from '../kit/index.js';
import type { RedisCommands } from './commands.js';
import { RedisConnection } from './connection.js';
import { liveSession, ms } from './hash.js';
import { subscribeExpiry, UnlockNotifier } from './notify.js';
import { NAME, type RedisStoreOptions, resolveOptions } from './options.js';
import { CREATE, DESTROY, LOCK, PATCH, type Script, TOUCH, UNLOCK } from './scripts.js';
import { addToUser, listByUser, pruneUserIndexes, type SweepContext, scanSessions } from './sweep.js';

/**
 * Sessions in Redis or Redis Cluster: one hash per session (one field per top-level data key),
 * expired by Redis at the session's expiry (`PEXPIREAT`) and checked again on every read. Every
 * write is one Lua script on that one key; the per-user index is a sorted set per user, kept
 * next to the writes and pruned as it is read. Lock releases are announced over pub/sub.
 */
export class RedisStore implements Store {
  readonly name = NAME;
  readonly limits: StoreLimits;
  readonly capabilities: StoreCapabilities;
  readonly #prefix: string;
  readonly #unlockChannel: string;
  readonly #ops = new OperationReporter(NAME);
  readonly #connection: RedisConnection;
  readonly #notifier: UnlockNotifier;
  readonly #sweep: SweepContext;
  readonly #subscriptions = new Set<() => Promise<void>>();
  /** Redis's clock (`TIME`, microseconds): every expiry decision and every `now` sent to a script. */
  readonly clock: SyncedClock;

  constructor(options: RedisStoreOptions) {
    const resolved = resolveOptions(options);
    this.#prefix = resolved.prefix;
    this.#unlockChannel = `${resolved.prefix}unlock`;
    this.limits = { maxSessionBytes: resolved.maxSize };
    this.capabilities = Object.freeze({
      lock: true,
      userIndex: true,
      scan: true,
      gc: true,
      ensureTable: false,
      serverTime: true,
      // A client made from a URL subscribes; of the clients users pass, a node-redis pool cannot.
      lockNotify: resolved.commands === undefined || resolved.commands.subscribe !== undefined,
    });
    this.#connection = new RedisConnection(resolved, this.#ops);
    this.#notifier = new UnlockNotifier(this.#connection, this.#unlockChannel);
    this.clock = new SyncedClock(() => this.serverTime(), {
      ...resolveClockOptions(options.clock, NAME),
      resolutionMs: 1,
      scope: NAME,
    });
    this.#sweep = {
      connection: this.#connection,
      prefix: this.#prefix,
      scanCount: resolved.scanCount,
      now: () => this.clock.now(),
      hashKey: (key) => this.hashKey(key),
      userKey: (userId) => this.userKey(userId),
    };
  }

  /** Redis's clock (`TIME`), in ms since the epoch. Not reported as an operation. */
  serverTime(): Promise<number> {
    return this.#connection.guard(async () => {
      const redis = await this.#connection.ready();
      const reply = (await this.#connection.send(redis, ['TIME'])) as unknown[];
      return Number(reply[0]) * 1000 + Number(reply[1]) / 1000;
    });
  }

  /** The Redis key of a session's hash. */
  hashKey(key: string): string {
    return `${this.#prefix}{${key}}`;
  }

  /** The Redis key of a user's index (a sorted set of session keys scored by absolute expiry). */
  userKey(userId: string): string {
    return `${this.#prefix}u:${userId}`;
  }

  get(key: string): Promise<StoredSession | null> {
    return this.#connection.run(
      'get',
      () => assertKey(NAME, key),
      (redis) =>
        this.#connection.send(redis, ['HGETALL', this.hashKey(key)], (reply) =>
          liveSession(reply, this.clock.now()),
        ),
    );
  }

  create(key: string, session: StoredSession): Promise<void> {
    return this.#connection.write(
      'create',
      () => {
        assertKey(NAME, key);
        assertStoredSession(NAME, session);
      },
      async (redis) => {
        const size = dataSize(session.data);
        if (size > this.limits.maxSessionBytes) {
          throw new SessionTooLargeError(size, this.limits.maxSessionBytes, { scope: NAME });
        }
        const args = [
          String(this.clock.now()),
          ms(session.expiresAt),
          String(session.version),
          ms(session.createdAt),
          ms(session.absoluteExpiresAt),
          session.userId ?? '',
          String(size),
        ];
        for (const [k, v] of Object.entries(session.data)) args.push(`d:${k}`, v);
        const created = await this.#eval(redis, CREATE, key, args);
        if (created !== 1) throw new SessionExistsError({ scope: NAME });
        if (session.userId !== undefined) {
          await addToUser(this.#sweep, redis, session.userId, ms(session.absoluteExpiresAt), key);
        }
      },
    );
  }

  patch(key: string, patch: Patch): Promise<{ version: number } | null> {
    return this.#connection.write(
      'patch',
      () => {
        assertKey(NAME, key);
        assertPatch(NAME, patch);
      },
      async (redis) => {
        const reply = (await this.#eval(redis, PATCH, key, this.#patchArgs(patch))) as unknown[];
        const status = Number(reply[0]);
        if (status === 0) return null;
        if (status === 2) throw versionConflict(NAME);
        if (status === 3) throw lockLost(NAME);
        if (status === 4) {
          throw new SessionTooLargeError(Number(reply[1]), patchLimit(this.limits, patch), { scope: NAME });
        }
        if (status === 5) throw staleKeys(NAME, (reply[1] as unknown[]).map(String));
        const version = Number(reply[1]);
        const previousUser = String(reply[2] ?? '');
        const absoluteExpiresAt = String(reply[3]);
        // The user index lives in its own slot on Cluster, so it follows the session in a second
        // call; a missed update is repaired on read (listByUser checks each entry against its hash).
        const index: Promise<unknown>[] = [];
        if (typeof patch.userId === 'string' && patch.userId !== previousUser) {
          index.push(addToUser(this.#sweep, redis, patch.userId, absoluteExpiresAt, key));
        }
        if (patch.userId !== undefined && previousUser !== '' && previousUser !== patch.userId) {
          index.push(this.#connection.send(redis, ['ZREM', this.userKey(previousUser), key]));
        }
        if (index.length > 0) await Promise.all(index);
        return { version };
      },
    );
  }

  touch(key: string, expiresAt: number): Promise<boolean> {
    return this.#connection.write(
      'touch',
      () => {
        assertKey(NAME, key);
        assertExpiry(NAME, expiresAt);
      },
      async (redis) => (await this.#eval(redis, TOUCH, key, [String(this.clock.now()), ms(expiresAt)])) === 1,
    );
  }

  destroy(key: string): Promise<boolean> {
    return this.#connection.write(
      'destroy',
      () => assertKey(NAME, key),
      async (redis) => {
        const now = String(this.clock.now());
        const reply = (await this.#eval(redis, DESTROY, key, [now, this.#unlockChannel])) as unknown[];
        const user = String(reply[1] ?? '');
        if (user !== '') await this.#connection.send(redis, ['ZREM', this.userKey(user), key]);
        return Number(reply[0]) === 1;
      },
    );
  }

  lock(key: string, ttlMs: number): Promise<LockHandle | null> {
    return this.#connection.run(
      'lock',
      () => assertKey(NAME, key),
      async (redis) => {
        const token = randomUUID();
        const now = this.clock.now();
        const reply = (await this.#eval(redis, LOCK, key, [
          String(now),
          token,
          ms(now + ttlMs),
        ])) as unknown[];
        const status = Number(reply[0]);
        if (status === -1) return null;
        if (status === 0) return { token, session: null, release: async () => {} };
        const session = liveSession(reply[1], now);
        let released = false;
        const release = async () => {
          if (released) return;
          await this.#connection.run('unlock', noCheck, (r) =>
            this.#eval(r, UNLOCK, key, [token, this.#unlockChannel]),
          );
          released = true;
        };
        return { token, session, release };
      },
    );
  }

  /**
   * Resolves when the lock on `key` is released (announced by the script that released it), or
   * after `timeoutMs`; never rejects. A lock that expires is not announced: the timeout covers it.
   */
  waitForUnlock(key: string, timeoutMs: number): Promise<void> {
    return this.#notifier.wait(this.hashKey(key), timeoutMs);
  }

  listByUser(userId: string): Promise<SessionSummary[]> {
    return this.#connection.run(
      'listByUser',
      () => assertUserId(NAME, userId),
      (redis) => listByUser(this.#sweep, redis, userId),
    );
  }

  scan(options: ScanOptions = {}): AsyncIterable<SessionSummary> {
    return scanSessions(this.#sweep, options);
  }

  /**
   * Redis deletes expired sessions itself; this prunes user-index entries whose session is gone
   * (expired, destroyed, or moved to another user).
   */
  gc(options: GcOptions = {}): Promise<{ deleted: number; scanned: number }> {
    return this.#connection.run('gc', noCheck, (redis) => pruneUserIndexes(this.#sweep, redis, options));
  }

  /**
   * Calls `listener` with the key of each session Redis deletes on expiry, or evicts under
   * `maxmemory` (an evicted session is a logged-out user), from keyspace notifications on a
   * second connection. Redis must send them: `notify-keyspace-events` with `E` and `x`, plus `e`
   * for evictions (e.g. `CONFIG SET notify-keyspace-events Exe`); when `CONFIG GET` shows they
   * are off this fails with ConfigError. Standalone Redis only (on Cluster they are per node).
   *
   * For metrics and cleanup hints only, never for correctness: Redis sends the event when it
   * deletes the key, which can be well after its expiry, and events sent while the subscriber is
   * disconnected are lost. Resolves with the unsubscribe function; `close()` also unsubscribes.
   */
  async onExpired(
    listener: (key: string, reason: 'expired' | 'evicted') => void,
  ): Promise<() => Promise<void>> {
    const unsubscribe = await this.#connection.guard(() =>
      subscribeExpiry(this.#connection, this.#prefix, listener),
    );
    this.#subscriptions.add(unsubscribe);
    return async () => {
      if (this.#subscriptions.delete(unsubscribe)) await unsubscribe();
    };
  }

  onOperation(listener: OperationListener): () => void {
    return this.#ops.subscribe(listener);
  }

  async close(): Promise<void> {
    // Calls fail as closed from here on; subscriptions end before the client closes.
    await this.#connection.close(() => {
      const subscriptions = [...this.#subscriptions];
      this.#subscriptions.clear();
      return Promise.all([...subscriptions.map((unsubscribe) => unsubscribe()), this.#notifier.close()]);
    });
  }

  // --- internals ---

  /** PATCH's arguments (see scripts.ts for their order). */
  #patchArgs(patch: Patch): string[] {
    const set = Object.entries(patch.set);
    const expect = patch.expect === undefined ? [] : Object.entries(patch.expect);
    const userMode = patch.userId === undefined ? 'k' : patch.userId === null ? 'd' : 's';
    const args = [
      String(this.clock.now()),
      ms(patch.expiresAt),
      patch.expectVersion === undefined ? '' : String(patch.expectVersion),
      patch.lockToken ?? '',
      patch.releaseLock ? '1' : '0',
      patch.replace ? '1' : '0',
      String(patchLimit(this.limits, patch)),
      userMode,
      typeof patch.userId === 'string' ? patch.userId : '',
      String(set.length),
      String(expect.length),
      this.#unlockChannel,
    ];
    for (const [k, v] of set) args.push(k, v);
    for (const [k, v] of expect) args.push(k, v === null ? 'n' : 's', v ?? '');
    for (const k of patch.unset) args.push(k);
    return args;
  }

  #eval(redis: RedisCommands, script: Script, key: string, args: string[]): Promise<unknown> {
    return this.#connection.eval(redis, script, this.hashKey(key), args);
  }
}

function noCheck(): void {}
