/**
 * The Memcached clients: one per server, made on first use (`memcache-client` is an optional
 * peer), or the one the user passed; and which server holds a key.
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../../core/errors.js';
import { type MemcachedClient, type MemcachedSettings, NAME } from './options.js';

export class MemcachedServers {
  readonly #settings: MemcachedSettings;
  #clients: MemcachedClient[] | undefined;
  #opening: Promise<MemcachedClient[]> | undefined;

  constructor(settings: MemcachedSettings) {
    this.#settings = settings;
    if (settings.client !== undefined) this.#clients = [settings.client];
  }

  /** The clients, connecting the first time. */
  open(): Promise<MemcachedClient[]> {
    if (this.#clients) return Promise.resolve(this.#clients);
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
      const { commandTimeoutMs, connectTimeoutMs } = this.#settings;
      this.#clients = this.#settings.servers.map(
        (server) =>
          new MemcacheClient({
            server,
            cmdTimeout: commandTimeoutMs,
            connectTimeout: connectTimeoutMs,
            noDelay: true,
          }),
      );
      return this.#clients;
    })();
    return this.#opening;
  }

  /** The client of the server that holds `key` (rendezvous hashing). */
  pick(clients: MemcachedClient[], key: string): MemcachedClient {
    if (clients.length === 1) return clients[0] as MemcachedClient;
    let best = 0;
    let bestScore = -1;
    this.#settings.servers.forEach((server, i) => {
      const score = createHash('sha1').update(`${server}\n${key}`).digest().readUInt32BE(0);
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    });
    return clients[best] as MemcachedClient;
  }

  /** Shuts the clients the store made; a client the user passed stays open. */
  async close(): Promise<void> {
    if (this.#settings.client !== undefined) return;
    const clients = this.#clients ?? (await this.#opening?.catch(() => undefined));
    for (const client of clients ?? []) client.shutdown();
  }
}
