/**
 * The Express middleware as two instances over one Redis or Memcached store: concurrent writes
 * to different keys all kept (merge), concurrent pushes all kept (lock), and an outage answered
 * with 503 then recovered from, on servers this file starts itself (never the shared ones).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { hashId } from '../../src/core/ids.js';
import { MemcachedStore } from '../../src/stores/memcached/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import type { Store } from '../../src/stores/store.js';
import { makeApp } from '../helpers/express-app.js';
import { close, Jar, listen } from '../helpers/http.js';
import { MemcachedServer } from '../helpers/memcached-server.js';
import { freePort, hasBinary, RedisServer } from '../helpers/redis-servers.js';
import { needService } from '../helpers/services.js';

async function instances(store: Store, options: Omit<Parameters<typeof makeApp>[0], 'store'> = {}) {
  const servers: Server[] = [];
  const urls: string[] = [];
  for (const name of ['A', 'B']) {
    const server = createServer(makeApp({ ...options, store }, name).app);
    servers.push(server);
    urls.push(await listen(server));
  }
  return { urls: urls as [string, string], close: () => Promise.all(servers.map(close)) };
}

function post(url: string, cookie: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const prefix = () => `baton-test-${randomBytes(5).toString('hex')}:`;
const redisSkip = await needService('Redis', 6379);
const memcachedSkip = await needService('Memcached', 11211);

const stores: [string, string | false, () => Promise<{ store: Store; done: () => Promise<unknown> }>][] = [
  [
    'Redis (node-redis)',
    redisSkip,
    async () => {
      const client = createClient({ url: 'redis://127.0.0.1:6379', disableOfflineQueue: true });
      await client.connect();
      const p = prefix();
      const store = new RedisStore({ client, prefix: p });
      return {
        store,
        done: async () => {
          for await (const keys of client.scanIterator({ MATCH: `${p}*` }))
            if (keys.length) await client.del(keys);
          await client.close();
        },
      };
    },
  ],
  [
    'Redis (ioredis)',
    redisSkip,
    async () => {
      const client = new Redis('redis://127.0.0.1:6379', {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
      });
      await new Promise((resolve) => client.once('ready', resolve));
      const p = prefix();
      const store = new RedisStore({ client, prefix: p });
      return {
        store,
        done: async () => {
          const keys = await client.keys(`${p}*`);
          if (keys.length) await client.del(...keys);
          await client.quit();
        },
      };
    },
  ],
  [
    'Memcached',
    memcachedSkip,
    async () => {
      const store = new MemcachedStore({ servers: ['127.0.0.1:11211'], prefix: prefix() });
      return { store, done: async () => {} };
    },
  ],
];

for (const [name, skip, make] of stores) {
  describe(`Express, two instances over one ${name} store`, { skip }, () => {
    let store: Store;
    let done: () => Promise<unknown>;
    before(async () => {
      ({ store, done } = await make());
    });
    after(async () => {
      await store?.close();
      await done?.();
    });

    it('keeps all of 50 concurrent requests setting different keys, alternating instances (merge)', async () => {
      const c = await instances(store);
      try {
        const jar = new Jar();
        await jar.request(c.urls[0], '/set', { json: { key: 'start', value: true } });
        const cookie = jar.cookie as string;
        const replies = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            post(`${c.urls[i % 2]}/set`, cookie, { key: `k${i}`, value: i, delayMs: 5 }),
          ),
        );
        assert.deepEqual(
          replies.map((r) => r.status),
          replies.map(() => 200),
        );
        const state = (await jar.request(c.urls[1], '/state')).body.data;
        for (let i = 0; i < 50; i++) assert.equal(state[`k${i}`], i, `k${i} kept`);
        assert.equal(state.start, true);
      } finally {
        await c.close();
      }
    });

    it('stores the session under the hash of its id, never the id from the cookie', async () => {
      const c = await instances(store);
      try {
        const jar = new Jar();
        await jar.request(c.urls[0], '/set', { json: { key: 'name', value: 'Jack' } });
        const id = (jar.cookie as string).slice('sid='.length).split('.')[0] as string;
        assert.ok(await store.get(hashId(id)), 'the record is under base64url(sha256(id))');
        assert.equal(await store.get(id), null, 'nothing is under the raw id');
      } finally {
        await c.close();
      }
    });

    it('keeps all of 10 concurrent read-modify-write pushes onto one array (lock)', async () => {
      const c = await instances(store, { concurrency: 'lock' });
      try {
        const jar = new Jar();
        await jar.request(c.urls[0], '/set', { json: { key: 'list', value: [] } });
        const cookie = jar.cookie as string;
        const replies = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            post(`${c.urls[i % 2]}/push`, cookie, { value: i, delayMs: 2 }),
          ),
        );
        assert.deepEqual(
          replies.map((r) => r.status),
          replies.map(() => 200),
        );
        const list = (await jar.request(c.urls[0], '/state')).body.data.list as number[];
        assert.deepEqual(
          [...list].sort((a, b) => a - b),
          Array.from({ length: 10 }, (_, i) => i),
        );
      } finally {
        await c.close();
      }
    });
  });
}

/** Polls until `fn` answers `status` (a server coming back up), then returns that reply. */
async function untilStatus<T extends { status: number }>(
  fn: () => Promise<T>,
  status: number,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await fn();
    if (reply.status === status || Date.now() > deadline) return reply;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const engines: [
  string,
  string,
  (port: number) => { start(): Promise<void>; kill(): Promise<void>; stop?(): Promise<void> },
  (port: number) => Store,
][] = [
  [
    'Redis',
    'redis-server',
    (port) => new RedisServer(port),
    (port) => new RedisStore({ url: `redis://127.0.0.1:${port}` }),
  ],
  [
    'Memcached',
    'memcached',
    (port) => new MemcachedServer(port),
    (port) => new MemcachedStore({ servers: [`127.0.0.1:${port}`] }),
  ],
];

for (const [name, binary, makeServer, makeStore] of engines) {
  const skip =
    !(await hasBinary(binary)) && process.env.BATON_REQUIRE_SERVICES !== '1'
      ? `${binary} is not installed`
      : false;
  describe(`Express over ${name} when ${name} is stopped mid-test`, { skip, timeout: 60_000 }, () => {
    it('answers 503 while it is down (never a fresh session), then serves again once it is back', async () => {
      const port = await freePort();
      const server = makeServer(port);
      await server.start();
      const store = makeStore(port);
      const c = await instances(store);
      try {
        const jar = new Jar();
        const [a, b] = c.urls;
        assert.equal((await jar.request(a, '/set', { json: { key: 'name', value: 'Jack' } })).status, 200);
        assert.equal((await jar.request(b, '/state')).body.data.name, 'Jack');
        const cookie = jar.cookie;

        await server.kill();
        const down = await jar.request(b, '/state');
        assert.equal(down.status, 503);
        assert.equal(down.body.code, 'BATON_STORE_UNAVAILABLE');
        assert.deepEqual(down.setCookie, [], 'no new session cookie during the outage');
        assert.equal((await jar.request(a, '/set', { json: { key: 'x', value: 1 } })).status, 503);
        assert.equal(jar.cookie, cookie, 'the cookie is kept');

        await server.start();
        const back = await untilStatus(() => jar.request(a, '/state'), 200);
        assert.equal(back.status, 200, 'serves again once the server is back');
        // The restarted server kept nothing: the user is logged out, with no error.
        assert.deepEqual(back.body.data, {});
        assert.equal((await jar.request(b, '/set', { json: { key: 'name', value: 'Will' } })).status, 200);
        assert.equal((await jar.request(a, '/state')).body.data.name, 'Will');
      } finally {
        await c.close();
        await store.close();
        await (server.stop ? server.stop() : server.kill());
      }
    });
  });
}
