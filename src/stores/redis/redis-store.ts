import { randomUUID } from 'node:crypto';
import {
  ConfigError,
  ConflictError,
  isBatonError,
  NotSupportedError,
  SessionExistsError,
  SessionTooLargeError,
  StoreUnavailableError,
} from '../../core/errors.js';
import { type ClockOption, resolveClockOptions, SyncedClock } from '../clock.js';
import {
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
import { isRedisClient, ownClient, type RedisCommands, wrapClient } from './commands.js';
import { CREATE, DESTROY, LOCK, PATCH, type Script, TOUCH, UNLOCK, USER_ADD } from './scripts.js';

export interface RedisStoreOptions {
  /**
   * A connection URL (`redis://[user:pass@]host:6379/0`, `rediss://` for TLS). The store makes its
   * own client (node-redis when installed, else ioredis) and closes it on `close()`. A `prefix`
   * query parameter sets `prefix` when that option is not given. Give either `url` or `client`.
   */
  url?: string;
  /**
   * A client you made: node-redis (`createClient()`, `createClientPool()`, `createSentinel()` or
   * `createCluster()`, v4–v6, connected) or ioredis (`new Redis()`, also with `sentinels`, or
   * `new Cluster()`). It stays open on `close()`. Set it to fail fast
   * while Redis is down (node-redis `disableOfflineQueue: true`; ioredis
   * `enableOfflineQueue: false`, `maxRetriesPerRequest: 1`); `commandTimeoutMs` bounds every call
   * either way.
   */
  client?: unknown;
  /**
   * Start of every key the store writes: session hashes are `<prefix>{<key>}` (the braces are a
   * Cluster hash tag) and user indexes `<prefix>u:<userId>`. Must not contain `{` or `}`.
   * @default 'sess:'
   */
  prefix?: string;
  /**
   * Largest session in bytes of key names plus JSON text.
   * @default 1048576 (1 MiB)
   */
  maxSize?: number;
  /**
   * Longest wait for one store call before it fails with `StoreUnavailableError` (a hung Redis
   * becomes a 503, not a hung request). The call may still have run on the server.
   * @default 2000
   */
  commandTimeoutMs?: number;
  /**
   * Longest wait for the first connection of a client made from `url`.
   * @default 1000
   */
  connectTimeoutMs?: number;
  /**
   * Keys fetched per `SCAN` call (`scan()` and `gc()`).
   * @default 500
   */
  scanCount?: number;
  /**
   * Wait for replicas to acknowledge every session write (`create`, `patch`, `touch`, `destroy`
   * and their user-index updates) before reporting it done: the store sends `WAIT replicas
   * timeoutMs` on the connection that made the write. When fewer replicas acknowledge in time,
   * the call fails with `StoreUnavailableError` (503): the write is on the primary but may be lost
   * in a failover, so it is not reported as done. Standalone Redis or Sentinel only (a
   * ConfigError on Cluster). Narrows, does not close, the window in which a failover loses an
   * acknowledged write or logout: replication stays asynchronous. `timeoutMs` must be below
   * `commandTimeoutMs` (`WAIT` with 0 would block for ever, so it is refused). Locks are not
   * waited for.
   * @default undefined (no wait: a write is done once the primary has it)
   */
  waitForReplicas?: WaitForReplicas;
  /**
   * Which clock decides expiry: `'store'` reads Redis's (`TIME`) once a minute and corrects this
   * machine's by the difference; `'local'` uses this machine's as is. See the README.
   * @default 'store'
   */
  clock?: ClockOption;
}

/** `WAIT numreplicas timeout` after every session write (see `RedisStoreOptions.waitForReplicas`). */
export interface WaitForReplicas {
  /** How many replicas must acknowledge the write. An integer ≥ 1. */
  replicas: number;
  /** Longest wait for them, in ms. An integer ≥ 1, below `commandTimeoutMs`. */
  timeoutMs: number;
}

const NAME = 'redis';

/**
 * Sessions in Redis or Redis Cluster: one hash per session (one field per top-level data key),
 * expired by Redis at the session's expiry (`PEXPIREAT`) and checked again on every read. Every
 * write is one Lua script on that one key; the per-user index is a sorted set per user, kept
 * next to the writes and pruned as it is read.
 */
export class RedisStore implements Store {
  readonly name = NAME;
  readonly limits: StoreLimits;
  readonly capabilities: StoreCapabilities = Object.freeze({
    lock: true,
    userIndex: true,
    scan: true,
    gc: true,
    ensureTable: false,
    serverTime: true,
    lockNotify: false,
  });
  readonly #prefix: string;
  readonly #commandTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #scanCount: number;
  readonly #url: string | undefined;
  /** `host:port` of a store opened from a URL, named in its errors (never the password). */
  readonly #address: string | undefined;
  readonly #ops = new OperationReporter(NAME);
  readonly #waitForReplicas: WaitForReplicas | undefined;
  #commands: RedisCommands | undefined;
  #opening: Promise<RedisCommands> | undefined;
  #lastConnectionError: unknown;
  #closed = false;
  readonly #subscriptions = new Set<() => Promise<void>>();
  /** Redis's clock (`TIME`, microseconds): every expiry decision and every `now` sent to a script. */
  readonly clock: SyncedClock;

  constructor(options: RedisStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new ConfigError('options', 'pass `{ url }` or `{ client }`', { scope: NAME });
    }
    const { url, client } = options;
    if ((url === undefined) === (client === undefined)) {
      throw new ConfigError('url', 'give exactly one of `url` (a redis:// URL) or `client`', { scope: NAME });
    }
    let prefix = options.prefix;
    if (url !== undefined) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch (cause) {
        throw new ConfigError('url', `${JSON.stringify(url)} is not a URL`, { scope: NAME, cause });
      }
      if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
        throw new ConfigError('url', `must start with redis:// or rediss://, got ${parsed.protocol}//`, {
          scope: NAME,
        });
      }
      prefix ??= parsed.searchParams.get('prefix') ?? undefined;
      parsed.searchParams.delete('prefix');
      this.#url = parsed.toString();
      this.#address = `${parsed.hostname}:${parsed.port || '6379'}`;
    } else if (!isRedisClient(client)) {
      throw new ConfigError(
        'client',
        'expected a node-redis client, pool, sentinel or cluster (createClient/createClientPool/createSentinel/createCluster) or an ioredis Redis/Cluster',
        { scope: NAME },
      );
    } else {
      this.#commands = wrapClient(client);
    }
    this.#prefix = prefix ?? 'sess:';
    if (typeof this.#prefix !== 'string' || /[{}]/.test(this.#prefix)) {
      throw new ConfigError('prefix', 'must be a string without `{` or `}` (the store adds the hash tag)', {
        scope: NAME,
      });
    }
    this.limits = { maxSessionBytes: positive('maxSize', options.maxSize ?? 1024 * 1024) };
    this.#commandTimeoutMs = positive('commandTimeoutMs', options.commandTimeoutMs ?? 2_000);
    this.#connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs ?? 1_000);
    this.#scanCount = positive('scanCount', options.scanCount ?? 500);
    this.#waitForReplicas = waitOption(options.waitForReplicas, this.#commandTimeoutMs);
    if (this.#waitForReplicas && this.#commands && !this.#commands.pinned) {
      throw new ConfigError(
        'waitForReplicas',
        'is not supported on Redis Cluster: a WAIT must follow the write on the same connection to the same node',
        { scope: NAME },
      );
    }
    this.clock = new SyncedClock(() => this.serverTime(), {
      ...resolveClockOptions(options.clock, NAME),
      resolutionMs: 1,
      scope: NAME,
    });
  }

  /** Redis's clock (`TIME`), in ms since the epoch. Not reported as an operation. */
  serverTime(): Promise<number> {
    return this.#guard(async () => {
      const redis = await this.#open();
      await redis.ready();
      const reply = (await this.#send(redis, ['TIME'])) as unknown[];
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
    return this.#run(
      'get',
      () => {
        assertKey(NAME, key);
      },
      async (redis) => {
        const reply = await this.#send(redis, ['HGETALL', this.hashKey(key)]);
        return liveSession(toFields(reply), this.clock.now());
      },
    );
  }

  create(key: string, session: StoredSession): Promise<void> {
    return this.#write(
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
          await this.#addToUser(redis, session.userId, ms(session.absoluteExpiresAt), key);
        }
      },
    );
  }

  patch(key: string, patch: Patch): Promise<{ version: number } | null> {
    return this.#write(
      'patch',
      () => {
        assertKey(NAME, key);
        assertPatch(NAME, patch);
      },
      async (redis) => {
        const set = Object.entries(patch.set);
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
        ];
        for (const [k, v] of set) args.push(k, v);
        args.push(...patch.unset);
        const reply = (await this.#eval(redis, PATCH, key, args)) as unknown[];
        const status = Number(reply[0]);
        if (status === 0) return null;
        if (status === 2) throw new ConflictError(undefined, { scope: NAME });
        if (status === 3) {
          throw new ConflictError(
            'the lock on this session was lost (it expired and another request took it)',
            {
              scope: NAME,
            },
          );
        }
        if (status === 4) {
          throw new SessionTooLargeError(Number(reply[1]), patchLimit(this.limits, patch), { scope: NAME });
        }
        const version = Number(reply[1]);
        const previousUser = String(reply[2] ?? '');
        const absoluteExpiresAt = String(reply[3]);
        // The user index lives in its own slot on Cluster, so it follows the session in a second
        // call; a missed update is repaired on read (listByUser checks each entry against its hash).
        const index: Promise<unknown>[] = [];
        if (typeof patch.userId === 'string' && patch.userId !== previousUser) {
          const user = patch.userId;
          index.push(this.#addToUser(redis, user, absoluteExpiresAt, key));
        }
        if (patch.userId !== undefined && previousUser !== '' && previousUser !== patch.userId) {
          index.push(this.#send(redis, ['ZREM', this.userKey(previousUser), key]));
        }
        await Promise.all(index);
        return { version };
      },
    );
  }

  touch(key: string, expiresAt: number): Promise<boolean> {
    return this.#write(
      'touch',
      () => {
        assertKey(NAME, key);
        assertExpiry(NAME, expiresAt);
      },
      async (redis) => {
        return (await this.#eval(redis, TOUCH, key, [String(this.clock.now()), ms(expiresAt)])) === 1;
      },
    );
  }

  destroy(key: string): Promise<boolean> {
    return this.#write(
      'destroy',
      () => {
        assertKey(NAME, key);
      },
      async (redis) => {
        const reply = (await this.#eval(redis, DESTROY, key, [String(this.clock.now())])) as unknown[];
        const user = String(reply[1] ?? '');
        if (user !== '') await this.#send(redis, ['ZREM', this.userKey(user), key]);
        return Number(reply[0]) === 1;
      },
    );
  }

  lock(key: string, ttlMs: number): Promise<LockHandle | null> {
    return this.#run(
      'lock',
      () => {
        assertKey(NAME, key);
      },
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
        const session = liveSession(toFields(reply[1]), now);
        let released = false;
        const release = async () => {
          if (released) return;
          await this.#run('unlock', noCheck, (r) => this.#eval(r, UNLOCK, key, [token]));
          released = true;
        };
        return { token, session, release };
      },
    );
  }

  listByUser(userId: string): Promise<SessionSummary[]> {
    return this.#run(
      'listByUser',
      () => {
        assertUserId(NAME, userId);
      },
      async (redis) => {
        const userKey = this.userKey(userId);
        const now = String(this.clock.now());
        const [members] = await Promise.all([
          this.#send(redis, ['ZRANGEBYSCORE', userKey, `(${now}`, '+inf']),
          this.#send(redis, ['ZREMRANGEBYSCORE', userKey, '-inf', now]),
        ]);
        const keys = (members as unknown[]).map(String);
        const summaries = await Promise.all(keys.map((k) => this.#summary(redis, k)));
        const out: SessionSummary[] = [];
        const stale: string[] = [];
        summaries.forEach((s, i) => {
          if (s && s.userId === userId) out.push(s);
          else stale.push(keys[i] as string);
        });
        if (stale.length > 0) await this.#send(redis, ['ZREM', userKey, ...stale]);
        return out;
      },
    );
  }

  async *scan(options: ScanOptions = {}): AsyncIterable<SessionSummary> {
    const redis = await this.#guard(async () => {
      const opened = await this.#open();
      await opened.ready();
      return opened;
    });
    let n = 0;
    const pattern = `${globEscape(this.#prefix)}{*`;
    for await (const batch of this.#scanKeys(redis, pattern)) {
      const summaries = await this.#guard(() =>
        Promise.all(batch.map((k) => this.#summary(redis, this.#sessionKey(k), options.includeExpired))),
      );
      for (const s of summaries) {
        if (!s) continue;
        if (options.limit !== undefined && n >= options.limit) return;
        n++;
        yield s;
      }
    }
  }

  /**
   * Redis deletes expired sessions itself; this prunes user-index entries whose session is gone
   * (expired, destroyed, or moved to another user).
   */
  gc(options: GcOptions = {}): Promise<{ deleted: number; scanned: number }> {
    return this.#run('gc', noCheck, async (redis) => {
      let scanned = 0;
      let deleted = 0;
      const rate = options.rate;
      const started = Date.now();
      const pattern = `${globEscape(this.#prefix)}u:*`;
      for await (const batch of this.#scanKeys(redis, pattern)) {
        for (const userKey of batch) {
          const userId = userKey.slice(this.#prefix.length + 2);
          const members = ((await this.#send(redis, ['ZRANGE', userKey, '0', '-1'])) as unknown[]).map(
            String,
          );
          scanned += members.length;
          const summaries = await Promise.all(members.map((k) => this.#summary(redis, k)));
          const stale = members.filter((_, i) => summaries[i]?.userId !== userId);
          if (stale.length === 0) continue;
          deleted += stale.length;
          if (!options.dryRun) await this.#send(redis, ['ZREM', userKey, ...stale]);
          options.onProgress?.({ scanned, deleted });
          if (rate !== undefined && rate > 0) {
            const due = started + (deleted / rate) * 1000;
            if (due > Date.now()) await sleep(due - Date.now());
          }
        }
      }
      options.onProgress?.({ scanned, deleted });
      return { deleted, scanned };
    });
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
    return this.#guard(async () => {
      const redis = await this.#open();
      await redis.ready();
      if (!redis.subscribe) {
        throw new NotSupportedError(
          'expiry events need standalone Redis: on Cluster keyspace notifications are per node',
          { scope: NAME },
        );
      }
      const setting = await this.#timeout(
        redis.send(undefined, ['CONFIG', 'GET', 'notify-keyspace-events']),
      ).then(
        (reply) => toFields(reply).get('notify-keyspace-events'),
        () => undefined, // CONFIG is disabled on some managed services: subscribe and hope.
      );
      if (
        setting !== undefined &&
        !(setting.includes('E') && (setting.includes('x') || setting.includes('A')))
      ) {
        throw new ConfigError(
          'notify-keyspace-events',
          `Redis sends no expiry events (it is ${JSON.stringify(setting)}); set it to include \`Ex\` on the server`,
          { scope: NAME },
        );
      }
      const start = `${this.#prefix}{`;
      const channel = (event: string) => `__keyevent@${redis.database()}__:${event}`;
      const unsubscribe = await this.#timeout(
        redis.subscribe([channel('expired'), channel('evicted')], (from, redisKey) => {
          if (!redisKey.startsWith(start) || !redisKey.endsWith('}')) return;
          listener(this.#sessionKey(redisKey), from.endsWith(':evicted') ? 'evicted' : 'expired');
        }),
      );
      this.#subscriptions.add(unsubscribe);
      return async () => {
        if (this.#subscriptions.delete(unsubscribe)) await unsubscribe();
      };
    });
  }

  onOperation(listener: OperationListener): () => void {
    return this.#ops.subscribe(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const subscriptions = [...this.#subscriptions];
    this.#subscriptions.clear();
    await Promise.all(subscriptions.map((unsubscribe) => unsubscribe()));
    const commands = this.#commands ?? (await this.#opening?.catch(() => undefined));
    await commands?.close();
  }

  // --- internals ---

  #sessionKey(redisKey: string): string {
    return redisKey.slice(this.#prefix.length + 1, -1);
  }

  async #summary(redis: RedisCommands, key: string, includeExpired = false): Promise<SessionSummary | null> {
    const reply = (await this.#send(redis, ['HMGET', this.hashKey(key), 'v', 'c', 'e', 'a', 'u', 's'])) as (
      | string
      | null
    )[];
    const [v, c, e, a, u, s] = reply;
    if (v === null || v === undefined || e === null || e === undefined || a === null || a === undefined)
      return null;
    const now = this.clock.now();
    if (!includeExpired && (Number(e) <= now || Number(a) <= now)) return null;
    const summary: SessionSummary = {
      key,
      createdAt: Number(c),
      expiresAt: Number(e),
      absoluteExpiresAt: Number(a),
      version: Number(v),
      size: Number(s ?? 0),
    };
    if (u !== null && u !== undefined) summary.userId = u;
    return summary;
  }

  /** SCAN every data node (every master on Cluster), yielding one page of keys at a time. */
  async *#scanKeys(redis: RedisCommands, pattern: string): AsyncIterable<string[]> {
    const nodes = await this.#guard(() => redis.nodes());
    for (const node of nodes) {
      let cursor = '0';
      do {
        const reply = (await this.#guard(() =>
          this.#timeout(node(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(this.#scanCount)])),
        )) as [unknown, unknown[]];
        cursor = String(reply[0]);
        const keys = reply[1].map(String);
        if (keys.length > 0) yield keys;
      } while (cursor !== '0');
    }
  }

  #addToUser(redis: RedisCommands, userId: string, absoluteExpiresAt: string, key: string): Promise<unknown> {
    return this.#evalOn(redis, USER_ADD, this.userKey(userId), [
      String(this.clock.now()),
      absoluteExpiresAt,
      key,
    ]);
  }

  #eval(redis: RedisCommands, script: Script, key: string, args: string[]): Promise<unknown> {
    return this.#evalOn(redis, script, this.hashKey(key), args);
  }

  async #evalOn(redis: RedisCommands, script: Script, hash: string, args: string[]): Promise<unknown> {
    try {
      return await this.#send(redis, ['EVALSHA', script.sha, '1', hash, ...args]);
    } catch (err) {
      // A server that has not seen the script yet (or was restarted) says NOSCRIPT: EVAL sends the
      // source once and caches it.
      if (!String((err as Error)?.message).startsWith('NOSCRIPT')) throw err;
      return this.#send(redis, ['EVAL', script.source, '1', hash, ...args]);
    }
  }

  /** Sends one command; on Cluster it goes to the node of the key it names. */
  #send(redis: RedisCommands, args: string[]): Promise<unknown> {
    return this.#timeout(redis.send(args[0] === 'EVALSHA' || args[0] === 'EVAL' ? args[3] : args[1], args));
  }

  #timeout<T>(promise: Promise<T>): Promise<T> {
    // One promise settled by whichever comes first (this runs on every command).
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new StoreUnavailableError(
              `Redis did not answer within ${this.#commandTimeoutMs} ms (commandTimeoutMs)`,
              {
                scope: NAME,
              },
            ),
          ),
        this.#commandTimeoutMs,
      );
      timer.unref();
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  async #open(): Promise<RedisCommands> {
    if (this.#closed) throw new StoreUnavailableError('the store is closed', { scope: NAME });
    if (this.#commands) return this.#commands;
    this.#opening ??= (async () => {
      const commands = await ownClient({
        url: this.#url as string,
        connectTimeoutMs: this.#connectTimeoutMs,
        onError: (err) => {
          this.#lastConnectionError = err;
        },
      });
      if (!commands) {
        throw new ConfigError('url', 'install `redis` (node-redis) or `ioredis` to connect with a URL', {
          scope: NAME,
        });
      }
      this.#commands = commands;
      return commands;
    })();
    return this.#opening;
  }

  /**
   * `#run` for a session write: with `waitForReplicas`, `fn` runs on one connection and is
   * followed there by `WAIT`, which counts the replicas that have every write of that connection
   * so far, this one included.
   */
  #write<T>(op: string, check: () => void, fn: (redis: RedisCommands) => Promise<T>): Promise<T> {
    const wait = this.#waitForReplicas;
    if (!wait) return this.#run(op, check, fn);
    return this.#run(op, check, (redis) => {
      if (!redis.pinned) {
        throw new ConfigError('waitForReplicas', 'is not supported on Redis Cluster', { scope: NAME });
      }
      // The whole call is bounded, waiting for a pooled connection included; a call that gets its
      // connection after the caller gave up writes nothing.
      let abandoned = false;
      const call = redis.pinned(async (connection) => {
        if (abandoned) throw new StoreUnavailableError('gave up waiting for a connection', { scope: NAME });
        const result = await fn(connection);
        const acked = Number(
          await this.#timeout(
            connection.send(undefined, ['WAIT', String(wait.replicas), String(wait.timeoutMs)]),
          ),
        );
        if (!(acked >= wait.replicas)) {
          throw new StoreUnavailableError(
            `the ${op} reached the primary but only ${acked} of ${wait.replicas} replicas acknowledged it within ${wait.timeoutMs} ms (waitForReplicas); a failover now could lose it`,
            { scope: NAME },
          );
        }
        return result;
      });
      return this.#timeout(call).catch((err: unknown) => {
        abandoned = true;
        throw err;
      });
    });
  }

  /** Checks the input (before any I/O), then runs `fn` on a ready client, mapping its errors. */
  #run<T>(op: string, check: () => void, fn: (redis: RedisCommands) => Promise<T>): Promise<T> {
    return this.#ops.measure(op, () =>
      this.#guard(async () => {
        check();
        const redis = this.#commands && !this.#closed ? this.#commands : await this.#open();
        const ready = redis.ready();
        if (ready) await ready;
        return fn(redis);
      }),
    );
  }

  /** Maps client and server errors to StoreUnavailableError at the store's edge. */
  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isBatonError(err)) throw err;
      const cause = err ?? this.#lastConnectionError;
      const message = err instanceof Error ? err.message : String(err);
      // node-redis answers "The client is offline" while it reconnects: say where, and why it is.
      const last = this.#lastConnectionError instanceof Error ? this.#lastConnectionError.message : '';
      const why = last !== '' && last !== message ? ` (last connection error: ${last})` : '';
      const at = this.#address === undefined ? '' : ` at ${this.#address}`;
      throw new StoreUnavailableError(`Redis${at} call failed: ${message}${why}`, { scope: NAME, cause });
    }
  }
}

function noCheck(): void {}

/** A time for Redis, which takes whole milliseconds (PEXPIREAT refuses fractions). */
function ms(time: number): string {
  return String(Math.ceil(time));
}

function waitOption(
  wait: WaitForReplicas | undefined,
  commandTimeoutMs: number,
): WaitForReplicas | undefined {
  if (wait === undefined) return undefined;
  const { replicas, timeoutMs } = (wait ?? {}) as Partial<WaitForReplicas>;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 1) {
    throw new ConfigError('waitForReplicas', `\`replicas\` must be an integer ≥ 1, got ${String(replicas)}`, {
      scope: NAME,
    });
  }
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new ConfigError(
      'waitForReplicas',
      `\`timeoutMs\` must be an integer ≥ 1 (WAIT with 0 blocks for ever), got ${String(timeoutMs)}`,
      { scope: NAME },
    );
  }
  if (timeoutMs >= commandTimeoutMs) {
    throw new ConfigError(
      'waitForReplicas',
      `\`timeoutMs\` (${timeoutMs}) must be below commandTimeoutMs (${commandTimeoutMs}), or every shortfall would surface as a timeout`,
      { scope: NAME },
    );
  }
  return { replicas, timeoutMs };
}

function positive(option: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(option, `must be a number > 0, got ${String(value)}`, { scope: NAME });
  }
  return value;
}

/** HGETALL replies: a flat [field, value, ...] array (RESP2, ioredis) or an object (node-redis v5+). */
function toFields(reply: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), String(reply[i + 1]));
  } else if (reply instanceof Map) {
    for (const [k, v] of reply) fields.set(String(k), String(v));
  } else if (typeof reply === 'object' && reply !== null) {
    for (const [k, v] of Object.entries(reply)) fields.set(k, String(v));
  }
  return fields;
}

/** The session in a hash, or null when it is missing or past its expiry (checked here, not only by Redis). */
function liveSession(fields: Map<string, string>, now: number): StoredSession | null {
  const v = fields.get('v');
  const e = fields.get('e');
  const a = fields.get('a');
  if (v === undefined || e === undefined || a === undefined) return null;
  const expiresAt = Number(e);
  const absoluteExpiresAt = Number(a);
  if (expiresAt <= now || absoluteExpiresAt <= now) return null;
  const data: Record<string, string> = {};
  for (const [field, value] of fields) {
    // defineProperty: a data key named `__proto__` stays data, never a prototype.
    if (field.startsWith('d:')) {
      Object.defineProperty(data, field.slice(2), {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  const session: StoredSession = {
    data,
    createdAt: Number(fields.get('c')),
    expiresAt,
    absoluteExpiresAt,
    version: Number(v),
  };
  const u = fields.get('u');
  if (u !== undefined) session.userId = u;
  return session;
}

/** Escapes glob characters so a prefix matches only itself in SCAN MATCH. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
