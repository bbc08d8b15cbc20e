/**
 * connect-redis's layout: one string key per session, `prefix + sid`, holding the session as JSON
 * (its `serializer`), expiring by the key's TTL (set from the cookie's `expires`, else `ttl`).
 * Works with a node-redis (v4+) or an ioredis client.
 */
import { ConfigError } from '../core/errors.js';
import type { LegacyRecord, LegacySource } from '../core/legacy.js';

/** The calls made on a node-redis or ioredis client. */
interface RedisLike {
  get(key: string): Promise<string | null>;
  del(key: string): Promise<unknown>;
  /** node-redis */
  pTTL?(key: string): Promise<number>;
  /** ioredis */
  pttl?(key: string): Promise<number>;
  /** node-redis: yields batches of keys (v5+) or single keys (v4). */
  scanIterator?(options: { MATCH: string; COUNT: number }): AsyncIterable<string | string[]>;
  /** ioredis: a readable stream of key batches. */
  scanStream?(options: { match: string; count: number }): AsyncIterable<string[]>;
}

export interface ConnectRedisOptions {
  /** The node-redis or ioredis client connect-redis used (or one to the same server). Stays open. */
  client: unknown;
  /** connect-redis's `prefix`. @default 'sess:' */
  prefix?: string;
  /** connect-redis's `serializer` when it was not JSON: only `parse` is used. @default JSON */
  serializer?: { parse(text: string): unknown };
  /** Keys asked for per SCAN step when listing (`baton migrate --from`). @default 100 */
  scanCount?: number;
}

/** Escapes Redis glob characters so a prefix matches only itself. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** Reads express-session's sessions where connect-redis stored them. */
export function connectRedis(options: ConnectRedisOptions): LegacySource {
  if (typeof options !== 'object' || options === null)
    throw new ConfigError('connectRedis', 'pass { client, prefix? }');
  const client = options.client as RedisLike;
  if (typeof client !== 'object' || client === null || typeof client.get !== 'function') {
    throw new ConfigError('client', 'pass the node-redis or ioredis client connect-redis used', {
      scope: 'legacy',
    });
  }
  const prefix = options.prefix ?? 'sess:';
  if (typeof prefix !== 'string') throw new ConfigError('prefix', 'must be a string', { scope: 'legacy' });
  const serializer = options.serializer ?? JSON;
  const scanCount = options.scanCount ?? 100;
  const pttl = (key: string): Promise<number> =>
    typeof client.pTTL === 'function'
      ? client.pTTL(key)
      : (client.pttl as (k: string) => Promise<number>)(key);

  return {
    name: 'connect-redis',
    async get(legacyId: string): Promise<LegacyRecord | null> {
      const key = prefix + legacyId;
      const [text, ms] = await Promise.all([client.get(key), pttl(key)]);
      // PTTL: -2 when the key is gone (it may have expired between the two calls), -1 when it has no TTL.
      if (text === null || text === undefined || ms === -2) return null;
      const data = serializer.parse(String(text));
      if (typeof data !== 'object' || data === null) return null;
      return { data: data as Record<string, unknown>, expiresAt: ms >= 0 ? Date.now() + ms : null };
    },
    async destroy(legacyId: string): Promise<void> {
      await client.del(prefix + legacyId);
    },
    async *ids(): AsyncIterable<string> {
      const match = `${globEscape(prefix)}*`;
      let batches: AsyncIterable<string | string[]>;
      if (typeof client.scanIterator === 'function')
        batches = client.scanIterator({ MATCH: match, COUNT: scanCount });
      else if (typeof client.scanStream === 'function')
        batches = client.scanStream({ match, count: scanCount });
      else
        throw new ConfigError('client', 'the client can neither scanIterator nor scanStream', {
          scope: 'legacy',
        });
      // SCAN may return a key more than once.
      const seen = new Set<string>();
      for await (const batch of batches) {
        for (const key of Array.isArray(batch) ? batch : [batch]) {
          const id = String(key).slice(prefix.length);
          if (seen.has(id)) continue;
          seen.add(id);
          yield id;
        }
      }
    },
  };
}
