/** The Memcached store's options and the client shape it needs, validated once. */
import { ConfigError } from '../../core/errors.js';
import type { ClockOption } from '../clock.js';

export const NAME = 'memcached';

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

/** The options with their defaults, checked. */
export interface MemcachedSettings {
  servers: string[];
  /** The client the user passed (stays open on `close()`), if any. */
  client: MemcachedClient | undefined;
  prefix: string;
  maxSize: number;
  itemSizeLimit: number;
  casRetries: number;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
}

export function memcachedSettings(options: MemcachedStoreOptions): MemcachedSettings {
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
  }
  const servers = options.servers ?? ['127.0.0.1:11211'];
  if (
    !Array.isArray(servers) ||
    servers.length === 0 ||
    servers.some((s) => typeof s !== 'string' || !/^[^\s:]+:\d+$/.test(s))
  ) {
    throw new ConfigError('servers', 'must be a non-empty list of "host:port" strings', { scope: NAME });
  }
  const prefix = options.prefix ?? 'sess:';
  if (typeof prefix !== 'string' || !/^[\x21-\x7e]*$/.test(prefix)) {
    throw new ConfigError('prefix', 'must be printable ASCII without spaces', { scope: NAME });
  }
  return {
    servers,
    client: options.client,
    prefix,
    maxSize: positive('maxSize', options.maxSize ?? 1_000_000),
    itemSizeLimit: positive('itemSizeLimit', options.itemSizeLimit ?? 1024 * 1024),
    casRetries: positive('casRetries', options.casRetries ?? 100),
    commandTimeoutMs: positive('commandTimeoutMs', options.commandTimeoutMs ?? 2_000),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs ?? 1_000),
  };
}

function positive(option: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(option, `must be a number > 0, got ${String(value)}`, { scope: NAME });
  }
  return value;
}
