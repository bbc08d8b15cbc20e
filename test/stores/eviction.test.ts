/**
 * Eviction under memory pressure, on servers this file starts small (FLT-09): an evicted session
 * is absent (logged out), never partial; Redis reports evictions through `onExpired`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemcachedStore } from '../../src/stores/memcached/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import type { Store } from '../../src/stores/store.js';
import { newKey, record } from '../conformance/suite.js';
import { MemcachedServer } from '../helpers/memcached-server.js';
import { freePort, hasBinary, RedisServer } from '../helpers/redis-servers.js';

const required = process.env.BATON_REQUIRE_SERVICES === '1';
const SESSIONS = 300;
const noRedis = !(await hasBinary('redis-server')) && !required && 'redis-server is not installed';
const noMemcached = !(await hasBinary('memcached')) && !required && 'memcached is not installed';

/** 16 KB of data over 8 keys, so a partial session would show as missing keys. */
function bigData(i: number): Record<string, string> {
  return Object.fromEntries(
    Array.from({ length: 8 }, (_, k) => [`part${k}`, JSON.stringify(`${i}:${k}:`.padEnd(2_000, 'x'))]),
  );
}

/** Writes SESSIONS big sessions, then reads each back: every one whole or absent. Returns the absent keys. */
async function fillAndCheck(store: Store): Promise<string[]> {
  const keys = Array.from({ length: SESSIONS }, () => newKey());
  for (const [i, key] of keys.entries()) await store.create(key, record({ data: bigData(i) }));
  const absent: string[] = [];
  for (const [i, key] of keys.entries()) {
    const got = await store.get(key);
    if (got === null) absent.push(key);
    else assert.deepEqual(got.data, bigData(i), `session ${i} is whole`);
  }
  return absent;
}

describe('Eviction', { timeout: 60_000 }, () => {
  it('Redis (maxmemory, allkeys-lru): evicted sessions are absent, never partial, and reported', {
    skip: noRedis,
  }, async () => {
    const server = new RedisServer(await freePort(), [
      '--maxmemory',
      '3mb',
      '--maxmemory-policy',
      'allkeys-lru',
      '--notify-keyspace-events',
      'Exe',
    ]);
    await server.start();
    const store = new RedisStore({ url: `redis://127.0.0.1:${server.port}` });
    try {
      const evicted = new Set<string>();
      await store.onExpired((key, reason) => {
        if (reason === 'evicted') evicted.add(key);
      });
      const absent = await fillAndCheck(store);
      assert.ok(absent.length > 0, 'the server had to evict');
      const deadline = Date.now() + 5_000;
      while (absent.some((k) => !evicted.has(k)) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      for (const key of absent) assert.ok(evicted.has(key), `eviction of ${key} reported`);
    } finally {
      await store.close();
      await server.stop();
    }
  });

  it('Memcached (-m 2): evicted sessions are absent, never partial', {
    skip: noMemcached,
  }, async () => {
    const server = new MemcachedServer(await freePort(), ['-m', '2']);
    await server.start();
    const store = new MemcachedStore({ servers: [`127.0.0.1:${server.port}`] });
    try {
      const absent = await fillAndCheck(store);
      assert.ok(absent.length > 0, 'the server had to evict');
    } finally {
      await store.close();
      await server.kill();
    }
  });
});
