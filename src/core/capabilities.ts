/**
 * Reading a store's declared capabilities (`store.capabilities`, src/core/store.ts): the manager,
 * the CLI, the express-session store and the demo ask here, never probe for methods.
 */
import { ConfigError, NotSupportedError } from './errors.js';
import type { Store, StoreCapabilities } from './store.js';

/** The bundled stores that have each capability, named in errors so the reader knows where to go. */
const STORES_WITH: Record<keyof StoreCapabilities, string> = {
  lock: 'DynamoDB, Redis, PostgreSQL, MySQL, Memcached, file and memory',
  userIndex: 'DynamoDB, Redis, PostgreSQL, MySQL, file and memory',
  scan: 'DynamoDB, Redis, PostgreSQL, MySQL, file and memory',
  gc: 'DynamoDB, Redis, PostgreSQL, MySQL, file and memory',
  ensureTable: 'DynamoDB, PostgreSQL, MySQL and file',
  serverTime: 'DynamoDB, Redis, PostgreSQL, MySQL, Memcached and file',
  lockNotify: 'Redis (not a node-redis pool) and PostgreSQL',
};

/** What each capability is called in messages. */
const NAMES: Record<keyof StoreCapabilities, string> = {
  lock: 'locks',
  userIndex: 'a user index',
  scan: 'a session listing (scan)',
  gc: 'expired-record deletion (gc)',
  ensureTable: 'table setup (ensureTable)',
  serverTime: 'a server clock',
  lockNotify: 'lock-release notifications',
};

/** Whether the store declares `capability` (false for a store that declares no capabilities at all). */
export function can(store: Store, capability: keyof StoreCapabilities): boolean {
  return store.capabilities?.[capability] === true;
}

/** The sentence naming the bundled stores that have `capability`. */
export function storesWith(capability: keyof StoreCapabilities): string {
  return `stores with ${NAMES[capability]}: ${STORES_WITH[capability]}`;
}

/** `NotSupportedError` for a call (`what`) that needs a capability the store lacks. */
export function notSupported(
  store: Store,
  capability: keyof StoreCapabilities,
  what: string,
): NotSupportedError {
  return new NotSupportedError(
    `${what} needs ${NAMES[capability]}; the ${store.name} store has none (${storesWith(capability)})`,
  );
}

/** Throws `NotSupportedError` unless the store declares `capability`. */
export function requireCapability(store: Store, capability: keyof StoreCapabilities, what: string): void {
  if (!can(store, capability)) throw notSupported(store, capability, what);
}

/** `ConfigError` at construction for an option (`option`, as set: `why`) that needs a capability the store lacks. */
export function requireForOption(
  store: Store,
  capability: keyof StoreCapabilities,
  option: string,
  why: string,
): void {
  if (can(store, capability)) return;
  throw new ConfigError(
    option,
    `${why} needs a store with ${NAMES[capability]}; the ${store.name} store has none (${storesWith(capability)})`,
  );
}
