/**
 * Expiry events from keyspace notifications, on redis-servers this file starts (the setting is
 * server-wide, so the shared server is left alone).
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

describe('RedisStore.onExpired', { skip, timeout: 30_000 }, () => {
  let withEvents: RedisServer;
  let without: RedisServer;
  before(async () => {
    withEvents = new RedisServer(await freePort(), ['--notify-keyspace-events', 'Ex']);
    without = new RedisServer(await freePort());
    await Promise.all([withEvents.start(), without.start()]);
  });
  after(async () => {
    await Promise.all([withEvents?.stop(), without?.stop()]);
  });

  const clients: [string, (port: number) => Promise<{ store: RedisStore; done: () => Promise<unknown> }>][] =
    [
      [
        'a client made from the URL',
        async (port) => ({
          store: new RedisStore({ url: `redis://127.0.0.1:${port}` }),
          done: async () => {},
        }),
      ],
      [
        'node-redis',
        async (port) => {
          const client = createClient({ url: `redis://127.0.0.1:${port}` });
          await client.connect();
          return { store: new RedisStore({ client }), done: () => client.close() };
        },
      ],
      [
        'ioredis',
        async (port) => {
          const client = new Redis(port, '127.0.0.1');
          return { store: new RedisStore({ client }), done: () => client.quit() };
        },
      ],
    ];

  for (const [name, make] of clients) {
    it(`with ${name}: reports the key of a session Redis expired, and only ours`, async () => {
      const { store, done } = await make(withEvents.port);
      try {
        const seen: string[] = [];
        const off = await store.onExpired((key) => seen.push(key));
        const key = newKey();
        const now = Date.now();
        await store.create(key, record({ expiresAt: now + 200 }));
        const other = createClient({ url: `redis://127.0.0.1:${withEvents.port}` });
        await other.connect();
        await other.set('not-a-session', '1', { PX: 100 });
        await other.close();
        const deadline = Date.now() + 10_000;
        while (!seen.includes(key) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(seen, [key]);
        await off();
      } finally {
        await store.close();
        await done();
      }
    });
  }

  it('says how to turn notifications on when the server sends none', async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${without.port}` });
    try {
      await assert.rejects(
        store.onExpired(() => {}),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'BATON_CONFIG');
          assert.match(err.message, /notify-keyspace-events/);
          assert.match(err.message, /Ex/);
          return true;
        },
      );
    } finally {
      await store.close();
    }
  });
});
