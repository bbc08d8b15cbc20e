/**
 * Redis going away and coming back, on a redis-server this file starts on a free port (never the
 * shared one): calls fail fast with StoreUnavailableError, then work again once it is back. The
 * server keeps nothing on disk, so sessions made before the crash are gone afterwards: absent,
 * not errors (the user is logged out, no 5xx).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { RedisStore } from '../../src/stores/redis/index.js';
import { newKey, record } from '../conformance/suite.js';
import { freePort, hasBinary, RedisServer } from '../helpers/redis-servers.js';

const skip =
  !(await hasBinary('redis-server')) && process.env.BATON_REQUIRE_SERVICES !== '1'
    ? 'redis-server is not installed'
    : false;

async function eventually<T>(what: string, fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`${what} did not recover within ${timeoutMs} ms`, { cause: err });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('RedisStore when Redis goes down and comes back', { skip, timeout: 60_000 }, () => {
  let server: RedisServer;
  let url: string;
  before(async () => {
    server = new RedisServer(await freePort());
    url = `redis://127.0.0.1:${server.port}`;
    await server.start();
  });
  after(() => server?.stop());

  const kinds: [string, () => Promise<{ store: RedisStore; done: () => Promise<unknown> }>][] = [
    ['a client made from the URL', async () => ({ store: new RedisStore({ url }), done: async () => {} })],
    [
      'a node-redis client (disableOfflineQueue)',
      async () => {
        const client = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy: 100 } });
        client.on('error', () => undefined);
        await client.connect();
        return { store: new RedisStore({ client }), done: () => client.close().catch(() => undefined) };
      },
    ],
    [
      'a node-redis client with its default offline queue (bounded by commandTimeoutMs)',
      async () => {
        const client = createClient({ url, socket: { reconnectStrategy: 100 } });
        client.on('error', () => undefined);
        await client.connect();
        return {
          store: new RedisStore({ client, commandTimeoutMs: 500 }),
          done: () => client.close().catch(() => undefined),
        };
      },
    ],
    [
      'an ioredis client (enableOfflineQueue: false)',
      async () => {
        const client = new Redis(url, {
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          retryStrategy: () => 100,
        });
        client.on('error', () => undefined);
        await new Promise((resolve) => client.once('ready', resolve));
        return { store: new RedisStore({ client }), done: async () => client.disconnect() };
      },
    ],
  ];

  it('a store made from a URL while Redis is down answers 503, then connects once Redis is up', async () => {
    const port = await freePort();
    const later = new RedisServer(port);
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 300 });
    try {
      const started = Date.now();
      await assert.rejects(store.get(newKey()), { code: 'BATON_STORE_UNAVAILABLE' });
      assert.ok(Date.now() - started < 1_000, `failed within connectTimeoutMs (${Date.now() - started} ms)`);
      await assert.rejects(store.get(newKey()), { code: 'BATON_STORE_UNAVAILABLE' });
      await later.start();
      assert.equal(await eventually('get', () => store.get(newKey())), null);
      const key = newKey();
      await store.create(key, record());
      assert.ok(await store.get(key));
    } finally {
      await store.close();
      await later.stop();
    }
  });

  for (const [name, make] of kinds) {
    it(`with ${name}: 503-type errors while down, sessions gone but no errors once back`, async () => {
      const { store, done } = await make();
      try {
        const key = newKey();
        await store.create(key, record());
        assert.ok(await store.get(key));

        await server.kill();
        for (const call of [
          () => store.get(key),
          () => store.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 60_000 }),
          () => store.create(newKey(), record()),
        ]) {
          const started = Date.now();
          await assert.rejects(call(), { code: 'BATON_STORE_UNAVAILABLE', status: 503 });
          assert.ok(
            Date.now() - started < 2_500,
            `failed within the command timeout (${Date.now() - started} ms)`,
          );
        }

        await server.start();
        // Nothing was persisted: the session is absent (logged out), not an error.
        assert.equal(await eventually('get', () => store.get(key)), null);
        const fresh = newKey();
        await store.create(fresh, record());
        assert.deepEqual((await store.get(fresh))?.data, record().data);
      } finally {
        await store.close();
        await done();
      }
    });
  }
});
