/**
 * Store URLs: one string that names a backend and where it lives, for the `baton` command, config
 * files and environment variables (`BATON_STORE`).
 *
 * ```
 * dynamodb://TABLE?region=eu-west-1&endpoint=http://127.0.0.1:8000
 * redis://host:6379/0?prefix=sess:          rediss:// for TLS
 * postgres://user:pass@host:5432/db?table=sessions&schema=public
 * mysql://user:pass@host:3306/db?table=sessions
 * memcached://host:11211,host2:11211?prefix=sess:
 * file:///var/lib/sessions                  file:relative/dir
 * memory:
 * ```
 *
 * Each store module is imported only when its URL is used, so an app needs only the client package
 * of the store it uses. DynamoDB credentials come from the standard AWS chain (environment, shared
 * config and credentials files, SSO, container and instance roles).
 */
import { fileURLToPath } from 'node:url';
import { ConfigError, isBatonError } from '../core/errors.js';
import type { DynamoDBStoreOptions } from './dynamodb/index.js';
import { optionsFromUrl } from './dynamodb/url.js';
import type { Store } from './store.js';

/** The schemes `createStore` understands, in the order messages list them. */
export const STORE_SCHEMES = [
  'dynamodb',
  'redis',
  'rediss',
  'postgres',
  'postgresql',
  'mysql',
  'memcached',
  'file',
  'memory',
] as const;

import { missingPackage, type StoreKind } from './kit/packages.js';

export type { StoreKind } from './kit/packages.js';
export { missingPackage } from './kit/packages.js';

/** A store URL taken apart, before any module is loaded. */
export type StoreUrl =
  | { kind: 'dynamodb'; tableName: string; options: DynamoDBStoreOptions }
  | { kind: 'redis'; url: string }
  | { kind: 'postgres'; connectionString: string; tableName?: string; schema?: string }
  | { kind: 'mysql'; uri: string; tableName?: string }
  | { kind: 'memcached'; servers: string[]; prefix?: string }
  | { kind: 'file'; dir: string }
  | { kind: 'memory' };

export interface CreateStoreOptions {
  /**
   * Extra constructor options for the store, merged over what the URL says (for example
   * `{ consistentRead: false }` for DynamoDB or `{ maxSize: 65536 }`).
   * @default {}
   */
  storeOptions?: Record<string, unknown>;
  /**
   * Receives the store's warnings (DynamoDB: "this engine has no TTL deleter"...).
   * @default the store's own default (`process.emitWarning`)
   */
  onWarning?: (message: string) => void;
}

function usage(message: string, cause?: unknown): ConfigError {
  return new ConfigError('store', message, { cause });
}

/** Hides a password in a URL before it is shown in a message. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@?#]*:)[^@/?#]*@/i, '$1***@');
}

function onlyParams(url: string, params: URLSearchParams, allowed: readonly string[]): void {
  for (const name of params.keys()) {
    if (!allowed.includes(name)) {
      const list = allowed.length === 0 ? 'none' : allowed.map((a) => `\`${a}\``).join(', ');
      throw usage(`${redactUrl(url)}: unknown parameter \`${name}\` (accepted here: ${list})`);
    }
  }
}

function splitQuery(rest: string): [string, URLSearchParams] {
  const at = rest.indexOf('?');
  return at === -1
    ? [rest, new URLSearchParams()]
    : [rest.slice(0, at), new URLSearchParams(rest.slice(at + 1))];
}

/** Takes a store URL apart; `ConfigError` naming what is wrong (no store module is loaded). */
export function parseStoreUrl(url: string): StoreUrl {
  if (typeof url !== 'string' || url.trim() === '') {
    throw usage(
      `no store URL given; pass one such as dynamodb://TABLE?region=REGION (supported schemes: ${STORE_SCHEMES.join(', ')})`,
    );
  }
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (match === null) {
    throw usage(
      `${JSON.stringify(redactUrl(url))} is not a store URL; it must start with a scheme (supported: ${STORE_SCHEMES.join(', ')})`,
    );
  }
  const scheme = match[1]!.toLowerCase();
  const rest = url.slice(match[0].length);
  if (/^\d+(\/|$)/.test(rest)) {
    throw usage(
      `${JSON.stringify(redactUrl(url))} is not a store URL; it looks like HOST:PORT: add the scheme, e.g. redis://${url}`,
    );
  }
  switch (scheme) {
    case 'dynamodb': {
      const [path, params] = splitQuery(rest.replace(/^\/\//, ''));
      // DynamoDB table names: 3-255 characters of a-z, A-Z, 0-9, `_`, `-`, `.`.
      if (!/^[A-Za-z0-9_.-]{3,255}$/.test(path)) {
        throw usage(
          `${redactUrl(url)}: the table name ${JSON.stringify(path)} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .); use dynamodb://TABLE?region=REGION`,
        );
      }
      const endpoint = params.get('endpoint') ?? undefined;
      if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) {
        throw usage(`${redactUrl(url)}: endpoint must be an http:// or https:// URL, got ${endpoint}`);
      }
      // The store's own reading of the URL checks the other parameters (region, consistentRead...).
      const options = optionsFromUrl(url);
      return { kind: 'dynamodb', tableName: path, options };
    }
    case 'redis':
    case 'rediss': {
      const parsed = parseUrl(url);
      onlyParams(url, parsed.searchParams, ['prefix']);
      return { kind: 'redis', url };
    }
    case 'postgres':
    case 'postgresql': {
      const parsed = parseUrl(url);
      const tableName = parsed.searchParams.get('table') ?? undefined;
      const schema = parsed.searchParams.get('schema') ?? undefined;
      // Other parameters (sslmode, application_name...) belong to the driver.
      parsed.searchParams.delete('table');
      parsed.searchParams.delete('schema');
      return {
        kind: 'postgres',
        connectionString: parsed.toString(),
        ...(tableName === undefined ? {} : { tableName }),
        ...(schema === undefined ? {} : { schema }),
      };
    }
    case 'mysql': {
      const parsed = parseUrl(url);
      const tableName = parsed.searchParams.get('table') ?? undefined;
      parsed.searchParams.delete('table');
      return { kind: 'mysql', uri: parsed.toString(), ...(tableName === undefined ? {} : { tableName }) };
    }
    case 'memcached': {
      const [hosts, params] = splitQuery(rest.replace(/^\/\//, '').replace(/\/$/, ''));
      onlyParams(url, params, ['prefix']);
      const servers = hosts.split(',').filter((h) => h !== '');
      if (servers.length === 0 || servers.some((s) => !/^[^\s:/]+(:\d{1,5})?$/.test(s))) {
        throw usage(
          `${redactUrl(url)}: expected memcached://HOST:PORT[,HOST:PORT...], got ${JSON.stringify(hosts)}`,
        );
      }
      const prefix = params.get('prefix') ?? undefined;
      return {
        kind: 'memcached',
        servers: servers.map((s) => (s.includes(':') ? s : `${s}:11211`)),
        ...(prefix === undefined ? {} : { prefix }),
      };
    }
    case 'file': {
      let dir: string;
      if (rest.startsWith('//')) {
        try {
          dir = fileURLToPath(url);
        } catch (cause) {
          throw usage(`${redactUrl(url)}: ${(cause as Error).message}; use file:///absolute/path`, cause);
        }
      } else {
        dir = decodeURIComponent(rest);
      }
      if (dir === '') throw usage(`${url}: no directory; use file:///absolute/path or file:relative/path`);
      return { kind: 'file', dir };
    }
    case 'memory':
      if (rest.replace(/^\/\//, '') !== '')
        throw usage(`${url}: the memory store takes no host or path; use memory:`);
      return { kind: 'memory' };
    default:
      throw usage(
        `unsupported store URL scheme \`${scheme}:\` in ${JSON.stringify(redactUrl(url))}; supported: ${STORE_SCHEMES.map((s) => `${s}:`).join(', ')}`,
      );
  }
}

function parseUrl(url: string): URL {
  try {
    return new URL(url);
  } catch (cause) {
    throw usage(`${JSON.stringify(redactUrl(url))} is not a valid URL`, cause);
  }
}

/** The client package each store needs, for the "install X" message. */

/**
 * Imports a store module, turning a missing client package into a `ConfigError` that says what to
 * install.
 */
async function load<T>(kind: StoreKind, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (err) {
    throw missingPackage(kind, err) ?? err;
  }
}

/**
 * Builds a store from a URL (see the file header for the forms). The store owns the clients it
 * makes, so `close()` it when done.
 *
 * @throws ConfigError for a malformed or unknown URL, or when the store's client package is not installed.
 */
export async function createStore(url: string, options: CreateStoreOptions = {}): Promise<Store> {
  const parsed = parseStoreUrl(url);
  return build(parsed, options);
}

/** True when `endpoint` is on this machine (a local engine such as dynalite or DynamoDB Local). */
export function isLoopback(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\./.test(host);
}

async function build(parsed: StoreUrl, options: CreateStoreOptions): Promise<Store> {
  const extra = options.storeOptions ?? {};
  switch (parsed.kind) {
    case 'memory': {
      const { MemoryStore } = await load('memory', () => import('./memory/index.js'));
      return new MemoryStore(extra);
    }
    case 'redis': {
      const { RedisStore } = await load('redis', () => import('./redis/index.js'));
      return new RedisStore({ ...extra, url: parsed.url });
    }
    case 'dynamodb': {
      const { DynamoDBStore } = await load('dynamodb', () => import('./dynamodb/index.js'));
      return new DynamoDBStore({
        ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
        ...parsed.options,
        ...extra,
      });
    }
    case 'postgres': {
      const { PostgresStore, loadPg } = await load('postgres', () => import('./postgres/postgres-store.js'));
      await loadPg(); // a missing pg fails here, not at the first query
      return new PostgresStore({
        ...extra,
        connectionString: parsed.connectionString,
        ...(parsed.tableName === undefined ? {} : { tableName: parsed.tableName }),
        ...(parsed.schema === undefined ? {} : { schema: parsed.schema }),
      });
    }
    case 'memcached': {
      const { MemcachedStore } = await load('memcached', () => import('./memcached/index.js'));
      return new MemcachedStore({
        ...extra,
        servers: parsed.servers,
        ...(parsed.prefix === undefined ? {} : { prefix: parsed.prefix }),
      });
    }
    case 'mysql': {
      const { MySQLStore, loadMysql } = await load('mysql', () => import('./mysql/mysql-store.js'));
      await loadMysql(); // a missing mysql2 fails here, not at the first query
      return new MySQLStore({
        ...extra,
        uri: parsed.uri,
        ...(parsed.tableName === undefined ? {} : { tableName: parsed.tableName }),
      });
    }
    case 'file': {
      const { FileStore } = await load('file', () => import('./file/index.js'));
      return new FileStore({ ...extra, dir: parsed.dir });
    }
  }
}

/** True for errors `createStore` raises about the URL or a missing package (bad usage, not an outage). */
export function isConfigError(err: unknown): boolean {
  return isBatonError(err) && err.code === 'BATON_CONFIG';
}
