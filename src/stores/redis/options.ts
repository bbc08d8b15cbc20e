/** The Redis store's options, their defaults and their checks (all at construction). */
import { ConfigError } from '../../core/errors.js';
import type { ClockOption } from '../clock.js';
import { isRedisClient, type RedisCommands, wrapClient } from './commands.js';

/** The store's name, in messages, metrics and error scopes. */
export const NAME = 'redis';

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
   * Cluster hash tag) and user indexes `<prefix>u:<userId>`. Lock releases are announced on the
   * channel `<prefix>unlock`. Must not contain `{` or `}`.
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

/** The options once checked, with their defaults applied. */
export interface ResolvedRedisOptions {
  /** The URL to connect to (its `prefix` parameter removed), when the store makes its client. */
  url: string | undefined;
  /** `host:port` of a store opened from a URL, named in its errors (never the password). */
  address: string | undefined;
  /** The user's client, wrapped. */
  commands: RedisCommands | undefined;
  prefix: string;
  maxSize: number;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  scanCount: number;
  waitForReplicas: WaitForReplicas | undefined;
}

/** Checks every option, throwing a `ConfigError` that names the first one that is wrong. */
export function resolveOptions(options: RedisStoreOptions): ResolvedRedisOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('options', 'pass `{ url }` or `{ client }`', { scope: NAME });
  }
  const { url, client } = options;
  if ((url === undefined) === (client === undefined)) {
    throw new ConfigError('url', 'give exactly one of `url` (a redis:// URL) or `client`', { scope: NAME });
  }
  let prefix = options.prefix;
  let ownUrl: string | undefined;
  let address: string | undefined;
  let commands: RedisCommands | undefined;
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
    ownUrl = parsed.toString();
    address = `${parsed.hostname}:${parsed.port || '6379'}`;
  } else if (!isRedisClient(client)) {
    throw new ConfigError(
      'client',
      'expected a node-redis client, pool, sentinel or cluster (createClient/createClientPool/createSentinel/createCluster) or an ioredis Redis/Cluster',
      { scope: NAME },
    );
  } else {
    commands = wrapClient(client);
  }
  prefix ??= 'sess:';
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
    throw new ConfigError('prefix', 'must be a string without `{` or `}` (the store adds the hash tag)', {
      scope: NAME,
    });
  }
  const maxSize = positive('maxSize', options.maxSize ?? 1024 * 1024);
  const commandTimeoutMs = positive('commandTimeoutMs', options.commandTimeoutMs ?? 2_000);
  const resolved: ResolvedRedisOptions = {
    url: ownUrl,
    address,
    commands,
    prefix,
    maxSize,
    commandTimeoutMs,
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs ?? 1_000),
    scanCount: positive('scanCount', options.scanCount ?? 500),
    waitForReplicas: waitOption(options.waitForReplicas, commandTimeoutMs),
  };
  if (resolved.waitForReplicas && commands && !commands.pinned) {
    throw new ConfigError(
      'waitForReplicas',
      'is not supported on Redis Cluster: a WAIT must follow the write on the same connection to the same node',
      { scope: NAME },
    );
  }
  return resolved;
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
