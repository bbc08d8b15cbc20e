/**
 * What the Redis store hears over pub/sub, each on a connection of its own: lock releases, which
 * wake the requests waiting for a lock (`waitForUnlock`), and keyspace expiry events
 * (`onExpired`).
 */
import { ConfigError, NotSupportedError } from '../../core/errors.js';
import { Waiters } from '../kit/index.js';
import type { RedisConnection } from './connection.js';
import { toFields } from './hash.js';
import { NAME } from './options.js';

/**
 * Wakes lock waiters when a lock is released. Every script that releases a lock PUBLISHes the
 * session hash's key on one channel per store prefix; one subscriber connection per store, made on
 * the first wait and kept until `close()`, hands each message to the waiters of that key. A
 * waiter's timer covers what pub/sub cannot: a lock that expires (its TTL publishes nothing), a
 * release before the subscription was in place, a message lost while the subscriber reconnects.
 */
export class UnlockNotifier {
  readonly #connection: RedisConnection;
  readonly #channel: string;
  /** Waiters by session hash key. */
  readonly #waiters = new Waiters();
  #subscription: Promise<(() => Promise<void>) | undefined> | undefined;
  /** Drops a subscriber connection still being made (on timeout or close). */
  #abort: AbortController | undefined;

  constructor(connection: RedisConnection, channel: string) {
    this.#connection = connection;
    this.#channel = channel;
  }

  /** Resolves when the lock on `hashKey` is announced released, or after `timeoutMs`; never rejects. */
  wait(hashKey: string, timeoutMs: number): Promise<void> {
    if (this.#waiters.closed) return Promise.resolve();
    this.#subscribe();
    return this.#waiters.wait(hashKey, timeoutMs);
  }

  /** Ends the subscription and wakes every waiter. */
  async close(): Promise<void> {
    this.#waiters.close();
    this.#abort?.abort();
    const unsubscribe = await this.#subscription;
    await unsubscribe?.();
  }

  /** Subscribes once; a failed attempt is forgotten, so the next wait tries again. */
  #subscribe(): void {
    if (this.#subscription) return;
    const connection = this.#connection;
    this.#subscription = (async () => {
      const redis = await connection.ready();
      if (!redis.subscribe || this.#waiters.closed) return undefined;
      const abort = new AbortController();
      this.#abort = abort;
      const pending = redis.subscribe(
        [this.#channel],
        (_channel, message) => this.#waiters.wake(message),
        abort.signal,
      );
      try {
        const unsubscribe = await connection.timeout(pending);
        if (!this.#waiters.closed) return unsubscribe;
        await unsubscribe();
        return undefined;
      } catch (err) {
        // A subscriber still connecting after the timeout is dropped, not left retrying.
        abort.abort();
        pending.then(
          (unsubscribe) => unsubscribe(),
          () => undefined,
        );
        throw err;
      }
    })().catch(() => {
      this.#subscription = undefined;
      return undefined;
    });
  }
}

/**
 * Subscribes `listener` to the keyspace events of expired and evicted session hashes (see
 * `RedisStore.onExpired`); resolves with the function that unsubscribes.
 */
export async function subscribeExpiry(
  connection: RedisConnection,
  prefix: string,
  listener: (key: string, reason: 'expired' | 'evicted') => void,
): Promise<() => Promise<void>> {
  const redis = await connection.ready();
  if (!redis.subscribe || redis.kind.endsWith('cluster')) {
    throw new NotSupportedError(
      'expiry events need standalone Redis: on Cluster keyspace notifications are per node',
      { scope: NAME },
    );
  }
  const setting = await connection
    .timeout(redis.send(undefined, ['CONFIG', 'GET', 'notify-keyspace-events']))
    .then(
      (reply) => toFields(reply).get('notify-keyspace-events'),
      () => undefined, // CONFIG is disabled on some managed services: subscribe and hope.
    );
  if (setting !== undefined && !(setting.includes('E') && (setting.includes('x') || setting.includes('A')))) {
    throw new ConfigError(
      'notify-keyspace-events',
      `Redis sends no expiry events (it is ${JSON.stringify(setting)}); set it to include \`Ex\` on the server`,
      { scope: NAME },
    );
  }
  const start = `${prefix}{`;
  const channel = (event: string) => `__keyevent@${redis.database()}__:${event}`;
  return connection.timeout(
    redis.subscribe([channel('expired'), channel('evicted')], (from, redisKey) => {
      if (!redisKey.startsWith(start) || !redisKey.endsWith('}')) return;
      listener(redisKey.slice(prefix.length + 1, -1), from.endsWith(':evicted') ? 'evicted' : 'expired');
    }),
  );
}
