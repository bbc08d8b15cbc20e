/**
 * The Redis store over Sentinel-aware clients (ioredis `sentinels`, node-redis `createSentinel`)
 * and `waitForReplicas` (WAIT after every write), against a private primary, replica and
 * Sentinel on free loopback ports. The failover itself is FLT-07 in test/faults/failover.faults.ts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { createClientPool, createSentinel } from 'redis';
import { RedisStore } from '../../src/stores/redis/index.js';
import { storeConformance } from '../../src/testing/index.js';
import { newKey, record } from '../conformance/suite.js';
import { hasBinary, RedisReplicaSet, rawCommand } from '../helpers/redis-servers.js';

const hasRedis = await hasBinary('redis-server');
const skip = hasRedis ? false : 'redis-server is not installed';
if (!hasRedis && process.env.BATON_REQUIRE_SERVICES === '1') throw new Error('redis-server is required');

// Generous: the suite runs 50 concurrent writes on one connection, each waiting for its WAIT, on
// a machine that may be busy; what a shortfall does is tested below with short timeouts.
const wait = { replicas: 1, timeoutMs: 1_000 };
const commandTimeoutMs = 5_000;

describe('RedisStore over Sentinel with waitForReplicas', { skip, timeout: 120_000 }, () => {
  // The replica follows through a proxy (passing data on at once), so a test can stall replication.
  const set = new RedisReplicaSet({ replicas: 1, replicationProxy: true });
  const started = skip ? Promise.resolve() : set.start();
  const sentinels = () => [{ host: '127.0.0.1', port: set.sentinel.port }];
  const ioredis = () => {
    const client = new Redis({
      sentinels: sentinels(),
      name: set.name,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      lazyConnect: true,
    });
    client.on('error', () => {});
    return client;
  };
  const clients: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const close of clients) await close().catch(() => undefined);
    await set.stop();
  });

  storeConformance({
    name: 'RedisStore (ioredis via Sentinel, waitForReplicas)',
    create: async () => {
      await started;
      const client = ioredis();
      await client.connect();
      clients.push(() => client.quit());
      return new RedisStore({ client, prefix: 'io:', commandTimeoutMs, waitForReplicas: wait });
    },
  });

  // Without WAIT: node-redis leases a Sentinel connection (use()) for each write and its WAIT, and
  // those leases are slow to hand over under concurrency (50 concurrent WAITed writes took seconds),
  // too slow for the suite's concurrency tests. WAIT over it is checked below, sequentially.
  const nodeRedisSentinel = async () => {
    await started;
    const client = createSentinel({ name: set.name, sentinelRootNodes: sentinels() });
    client.on('error', () => {});
    await client.connect();
    clients.push(() => client.close());
    return client;
  };
  storeConformance({
    name: 'RedisStore (node-redis createSentinel)',
    create: async () => {
      return new RedisStore({ client: await nodeRedisSentinel(), prefix: 'nr:' });
    },
  });

  describe('replication acknowledgement', () => {
    let client: Redis;
    before(async () => {
      await started;
      client = ioredis();
      await client.connect();
      clients.push(() => client.quit());
    });

    it('a write reported done is on the replica already', async () => {
      const store = new RedisStore({ client, prefix: 'ack:', commandTimeoutMs, waitForReplicas: wait });
      const replica = set.replicas[0]!.port;
      for (let i = 0; i < 20; i++) {
        const key = newKey();
        await store.create(key, record({ data: { n: String(i) } }));
        // Read on the replica right away: with WAIT it has the write (without, it could lag).
        assert.match(
          await rawCommand(replica, `HGET ${store.hashKey(key)} d:n`),
          new RegExp(`^\\$\\d+\\r\\n${i}\\r\\n`),
        );
        await store.destroy(key);
        assert.equal(await rawCommand(replica, `EXISTS ${store.hashKey(key)}`), ':0\r\n');
      }
    });

    it('node-redis createSentinel: a write reported done is on the replica already', async () => {
      const store = new RedisStore({
        client: await nodeRedisSentinel(),
        prefix: 'nr-ack:',
        commandTimeoutMs,
        waitForReplicas: wait,
      });
      const replica = set.replicas[0]!.port;
      for (let i = 0; i < 10; i++) {
        const key = newKey();
        await store.create(key, record());
        assert.equal(await rawCommand(replica, `EXISTS ${store.hashKey(key)}`), ':1\r\n');
        await store.destroy(key);
        assert.equal(await rawCommand(replica, `EXISTS ${store.hashKey(key)}`), ':0\r\n');
      }
    });

    it('onExpired works through both Sentinel clients', async () => {
      await rawCommand(set.primary.port, 'CONFIG SET notify-keyspace-events Ex');
      for (const c of [client, await nodeRedisSentinel()]) {
        const store = new RedisStore({ client: c, prefix: `exp-${randomUUID()}:` });
        const seen: string[] = [];
        const off = await store.onExpired((key) => seen.push(key));
        const key = newKey();
        await store.create(key, record({ expiresAt: Date.now() + 100 }));
        const deadline = Date.now() + 5_000;
        while (!seen.includes(key) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        await off();
        assert.deepEqual(seen, [key]);
      }
    });

    it('fewer replicas than asked: the write fails with StoreUnavailableError (503) after timeoutMs', async () => {
      const store = new RedisStore({
        client,
        prefix: 'short:',
        waitForReplicas: { replicas: 2, timeoutMs: 100 },
      });
      const key = newKey();
      const started = Date.now();
      await assert.rejects(
        store.create(key, record()),
        (err: { code: string; status: number; message: string }) => {
          assert.equal(err.code, 'BATON_STORE_UNAVAILABLE');
          assert.equal(err.status, 503);
          assert.match(err.message, /only 1 of 2 replicas acknowledged it within 100 ms/);
          return true;
        },
      );
      assert.ok(Date.now() - started >= 100, 'WAIT waited its timeout');
      // The primary has it: the error says the write is not durable, not that it was undone.
      assert.ok(await new RedisStore({ client, prefix: 'short:' }).get(key));
    });

    it('a stalled replica: writes fail with 503 until it catches up, then succeed; reads never wait', async () => {
      const store = new RedisStore({
        client,
        prefix: 'stall:',
        waitForReplicas: { replicas: 1, timeoutMs: 100 },
      });
      const key = newKey();
      await store.create(key, record());
      set.link!.stall();
      try {
        await assert.rejects(store.touch(key, Date.now() + 60_000), { code: 'BATON_STORE_UNAVAILABLE' });
        await assert.rejects(store.destroy(key), /only 0 of 1 replicas/);
        assert.equal(await store.get(key), null, 'the destroy ran on the primary; reads do not wait');
      } finally {
        set.link!.heal();
      }
      await store.create(newKey(), record());
    });

    it('a node-redis client pool pins the write and its WAIT to one connection', async () => {
      const primary = `redis://127.0.0.1:${set.primary.port}`;
      const pool = createClientPool({ url: primary }, { minimum: 3, maximum: 3 });
      pool.on('error', () => {});
      await pool.connect();
      clients.push(() => pool.close());
      const store = new RedisStore({
        client: pool,
        prefix: 'pool:',
        commandTimeoutMs,
        waitForReplicas: wait,
      });
      const keys = Array.from({ length: 30 }, () => newKey());
      await Promise.all(keys.map((k) => store.create(k, record())));
      const replica = set.replicas[0]!.port;
      for (const k of keys) assert.equal(await rawCommand(replica, `EXISTS ${store.hashKey(k)}`), ':1\r\n');
    });
  });

  it('refuses waitForReplicas on Cluster and bad values, naming the option', () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    assert.throws(() => new RedisStore({ client: cluster, waitForReplicas: wait }), {
      code: 'BATON_CONFIG',
      option: 'waitForReplicas',
    });
    const url = 'redis://127.0.0.1:1';
    for (const bad of [
      { replicas: 0, timeoutMs: 100 },
      { replicas: 1.5, timeoutMs: 100 },
      { replicas: 1, timeoutMs: 0 },
      { replicas: 1, timeoutMs: 2_000 },
    ]) {
      assert.throws(() => new RedisStore({ url, waitForReplicas: bad }), { code: 'BATON_CONFIG' });
    }
    assert.ok(
      new RedisStore({ url, commandTimeoutMs: 3_000, waitForReplicas: { replicas: 1, timeoutMs: 2_000 } }),
    );
  });
});
