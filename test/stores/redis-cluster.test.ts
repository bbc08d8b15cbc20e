/**
 * The conformance suite on a real three-master Redis Cluster that this file starts on free
 * loopback ports and removes afterwards, through node-redis `createCluster` and ioredis `Cluster`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { RedisStore } from '../../src/stores/redis/index.js';
import type { Store } from '../../src/stores/store.js';
import { storeConformance } from '../../src/testing/index.js';
import { newKey, record } from '../conformance/suite.js';
import { hasBinary, RedisCluster } from '../helpers/redis-servers.js';

const binaries = (await hasBinary('redis-server')) && (await hasBinary('redis-cli'));
const skip =
  !binaries && process.env.BATON_REQUIRE_SERVICES !== '1'
    ? 'redis-server and redis-cli are not installed'
    : false;

describe('RedisStore on Redis Cluster', { skip, timeout: 120_000 }, () => {
  const cluster = new RedisCluster();
  let nodeRedis: ReturnType<typeof createCluster> | undefined;
  let io: Cluster | undefined;

  before(async () => {
    await cluster.start();
  });
  after(async () => {
    await nodeRedis?.close().catch(() => undefined);
    io?.disconnect();
    await cluster.stop();
  });

  const spreads = (getStore: () => Store) => {
    it('refuses expiry events on Cluster (they are per node) with a clear error', async () => {
      const store = getStore() as RedisStore;
      await assert.rejects(
        store.onExpired(() => {}),
        { code: 'BATON_NOT_SUPPORTED' },
      );
    });

    it('announces lock releases on every master to the one subscriber, and checks Patch.expect in the script', async () => {
      const store = getStore() as RedisStore;
      assert.equal(store.capabilities.lockNotify, true);
      // Six sessions land on more than one master; the store listens on one connection.
      for (let i = 0; i < 6; i++) {
        const key = newKey();
        await store.create(key, record({ data: { a: '1' } }));
        const lock = await store.lock(key, 30_000);
        assert.ok(lock);
        const started = Date.now();
        const woken = store.waitForUnlock(key, 20_000).then(() => Date.now() - started);
        await new Promise((resolve) => setTimeout(resolve, i === 0 ? 500 : 50));
        await lock.release();
        const waited = await woken;
        assert.ok(waited < 10_000, `session ${i}: woken by the release after ${waited} ms`);
        await assert.rejects(
          store.patch(key, {
            set: { a: '2' },
            unset: [],
            expiresAt: Date.now() + 60_000,
            expect: { a: '0' },
          }),
          (err: { staleKeys?: string[] }) => {
            assert.deepEqual(err.staleKeys, ['a']);
            return true;
          },
        );
        assert.equal((await store.get(key))?.data.a, '1');
      }
    });

    it('spreads sessions over all three masters and scans every one', async () => {
      const store = getStore() as RedisStore;
      const keys = Array.from({ length: 30 }, () => newKey());
      for (const k of keys) await store.create(k, record());
      const seen = new Set<string>();
      for await (const s of store.scan()) seen.add(s.key);
      for (const k of keys) assert.ok(seen.has(k), `scan found ${k}`);
      const perNode = await Promise.all(
        cluster.ports.map(async (port) => {
          const { createClient } = await import('redis');
          const c = createClient({ url: `redis://127.0.0.1:${port}` });
          await c.connect();
          const n = await c.dbSize();
          await c.close();
          return n;
        }),
      );
      assert.ok(
        perNode.every((n) => n > 0),
        `every master holds sessions: ${perNode.join(', ')}`,
      );
    });
  };

  storeConformance({
    name: 'RedisStore (node-redis cluster)',
    create: async () => {
      nodeRedis = createCluster({
        rootNodes: [{ url: `redis://127.0.0.1:${cluster.ports[0]}` }],
        defaults: { disableOfflineQueue: true },
      });
      nodeRedis.on('error', () => undefined);
      await nodeRedis.connect();
      return new RedisStore({ client: nodeRedis, prefix: 'nr:' });
    },
    additionalTests: spreads,
  });

  storeConformance({
    name: 'RedisStore (ioredis cluster)',
    create: async () => {
      io = new Cluster([{ host: '127.0.0.1', port: cluster.ports[0] as number }], {
        enableOfflineQueue: false,
        redisOptions: { maxRetriesPerRequest: 1 },
      });
      io.on('error', () => undefined);
      await new Promise((resolve, reject) => {
        io?.once('ready', resolve);
        io?.once('error', reject);
      });
      return new RedisStore({ client: io, prefix: 'io:' });
    },
    additionalTests: spreads,
  });
});
