/**
 * FLT-01/02/08 on real engines: a private redis-server (never the shared 6379) killed with
 * SIGKILL and restarted with its append-only file; dynalite in a child process with its data on
 * disk, killed and restarted on the same port; PostgreSQL behind a loopback proxy whose
 * connections are cut (the shared server is never stopped); a private memcached killed and
 * restarted empty (it keeps nothing); FLT-09 eviction on a private Redis (`maxmemory`) and a
 * private memcached (`-m 2`). Run with `npm run test:faults`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import { MemcachedStore } from '../../src/stores/memcached/index.js';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import type { Store } from '../../src/stores/store.js';
import { startFixture } from '../helpers/child.js';
import { makeApp } from '../helpers/express-app.js';
import { close, Jar, listen } from '../helpers/http.js';
import { MemcachedServer } from '../helpers/memcached-server.js';
import { freePort, hasBinary, RedisServer } from '../helpers/redis-servers.js';
import { needService } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { mysqlUrl, postgresUrl, randomTableName } from '../stores/sql-quirks.js';
import { outageScenario } from './outage-scenario.js';

const hasRedis = await hasBinary('redis-server');
const redisSkip = hasRedis ? false : 'redis-server is not installed';
if (!hasRedis && process.env.BATON_REQUIRE_SERVICES === '1') throw new Error('redis-server is required');

describe('FLT-02 Redis killed (SIGKILL) mid-load, restarted with its AOF', {
  skip: redisSkip,
  timeout: 120_000,
}, () => {
  it('only 503s while down, cookies untouched, every acknowledged append intact after restart', async (t) => {
    const server = new RedisServer(await freePort(), ['--appendonly', 'yes', '--appendfsync', 'always']);
    await server.start();
    const store = new RedisStore({ url: `redis://127.0.0.1:${server.port}`, commandTimeoutMs: 500 });
    try {
      const figures = await outageScenario(t, {
        store,
        down: () => server.kill(),
        up: () => server.start(),
      });
      assert.ok(figures.acked > 0);
    } finally {
      await store.close();
      await server.stop();
    }
  });

  it('FLT-08: restarted without persistence, sessions are gone: requests are logged out, never a 5xx', async () => {
    const server = new RedisServer(await freePort());
    await server.start();
    const store = new RedisStore({ url: `redis://127.0.0.1:${server.port}`, commandTimeoutMs: 500 });
    const { app } = makeApp({ store, timeoutMs: 1000 });
    const http = createServer(app);
    const base = await listen(http);
    try {
      const users = Array.from({ length: 20 }, () => new Jar());
      for (const jar of users) await jar.request(base, '/login', { json: { user: 'u' } });
      await server.kill();
      await server.start();
      let firstOk = 0;
      for (const jar of users) {
        // The store reconnects; until it has, 503 (never a fresh session by mistake).
        let r = await jar.request(base, '/state');
        while (r.status === 503) r = await jar.request(base, '/state');
        assert.equal(r.status, 200);
        assert.deepEqual(r.body.data, {}, 'logged out');
        firstOk++;
        const again = await jar.request(base, '/login', { json: { user: 'u' } });
        assert.equal(again.status, 200, 'a new login works');
      }
      assert.equal(firstOk, 20);
    } finally {
      await close(http);
      await store.close();
      await server.stop();
    }
  });
});

describe('FLT-02 dynalite (child process, data on disk) killed mid-load, restarted on the same port', {
  timeout: 120_000,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-dynalite-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('only 503s while down, cookies untouched, every acknowledged append intact after restart', async (t) => {
    let engine = startFixture('test/faults/fixtures/dynalite-process.ts', { PORT: '0', DATA: dir });
    const port = (await engine.waitFor(/ready (\d+)/))[1] as string;
    const store = new DynamoDBStore({
      tableName: randomTableName('baton-flt'),
      clientConfig: {
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 2,
        timeoutMs: 500,
      },
      onWarning: () => {},
    });
    await store.ensureTable();
    try {
      await outageScenario(t, {
        store,
        down: () => engine.kill(),
        up: async () => {
          engine = startFixture('test/faults/fixtures/dynalite-process.ts', { PORT: port, DATA: dir });
          await engine.waitFor(/ready/);
        },
      });
    } finally {
      await store.close();
      await engine.kill();
    }
  });
});

const pgSkip = await needService('PostgreSQL', 5432);

describe('FLT-02 PostgreSQL connections cut mid-load (loopback proxy; the server stays up)', {
  skip: pgSkip,
  timeout: 120_000,
}, () => {
  it('only 503s while cut, cookies untouched, every acknowledged append intact after', async (t) => {
    const proxy = new TcpProxy({ targetPort: 5432 });
    await proxy.start();
    const table = randomTableName('baton_flt');
    const url = new URL(postgresUrl);
    url.port = String(proxy.port);
    const store = new PostgresStore({
      connectionString: url.toString(),
      tableName: table,
      connectTimeoutMs: 500,
    });
    await store.ensureTable();
    try {
      await outageScenario(t, {
        store,
        down: async () => proxy.cut(),
        up: async () => proxy.heal(),
      });
    } finally {
      await store.close();
      await proxy.close();
      const admin = new pg.Client({ connectionString: postgresUrl });
      await admin.connect();
      await admin.query(`DROP TABLE IF EXISTS "${table}"`);
      await admin.end();
    }
  });
});

/**
 * FLT-09: 3,000 sessions of about 1 KB written through the manager into an engine too small for
 * them, then each read back: an evicted session must be absent as a whole (a new empty session)
 * and reported by an `unknown` event; any other must come back whole.
 */
async function evictionCheck(t: TestContext, store: Store): Promise<void> {
  const { SessionManager } = await import('../../src/core/manager.js');
  const manager = new SessionManager({ store, secret: 'eviction-secret-eviction-secret-0' });
  let unknown = 0;
  manager.on('unknown', () => unknown++);
  try {
    const cookies: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const s = await manager.load({});
      s.a = 'a'.repeat(500);
      s.b = { n: i, text: 'b'.repeat(500) };
      s.c = i;
      const pair = (await manager.commit(s)).setCookie[0]!.split(';')[0]!;
      cookies.push(pair);
    }
    let whole = 0;
    let absent = 0;
    let partial = 0;
    for (const [i, cookie] of cookies.entries()) {
      const s = await manager.load({ cookie });
      if (s.isNew) absent++;
      else if (s.a === 'a'.repeat(500) && (s.b as { n: number }).n === i && s.c === i) whole++;
      else partial++;
    }
    t.diagnostic(
      JSON.stringify({ sessions: cookies.length, whole, evicted: absent, partial, unknownEvents: unknown }),
    );
    assert.ok(absent > 0, 'the engine evicted sessions');
    assert.equal(partial, 0, 'never a partial session');
    assert.equal(unknown, absent, 'each eviction reported (unknown event)');
  } finally {
    await manager.close();
  }
}

describe('FLT-09 Redis eviction (maxmemory 4 MB, allkeys-lru)', { skip: redisSkip, timeout: 120_000 }, () => {
  it('an evicted session is absent as a whole (never partial) and is reported as unknown', async (t) => {
    const server = new RedisServer(await freePort(), [
      '--maxmemory',
      '4mb',
      '--maxmemory-policy',
      'allkeys-lru',
    ]);
    await server.start();
    const store = new RedisStore({ url: `redis://127.0.0.1:${server.port}` });
    try {
      await evictionCheck(t, store);
    } finally {
      await store.close();
      await server.stop();
    }
  });
});

const memcachedSkip = (await hasBinary('memcached')) ? false : 'memcached is not installed';
if (memcachedSkip && process.env.BATON_REQUIRE_SERVICES === '1') throw new Error('memcached is required');

describe('FLT-09 Memcached eviction (-m 2)', { skip: memcachedSkip, timeout: 120_000 }, () => {
  it('an evicted session is absent as a whole (never partial) and is reported as unknown', async (t) => {
    const server = new MemcachedServer(await freePort(), ['-m', '2']);
    await server.start();
    const store = new MemcachedStore({ servers: [`127.0.0.1:${server.port}`] });
    try {
      await evictionCheck(t, store);
    } finally {
      await store.close();
      await server.kill();
    }
  });
});

describe('FLT-01 Redis down when the app starts', { skip: redisSkip, timeout: 60_000 }, () => {
  it('503 within connectTimeout + 100 ms for requests that need the store, no cookie handed out, recovery without restart', async (t) => {
    const port = await freePort();
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 1000 });
    const { app } = makeApp({ store, timeoutMs: 5000 });
    const http = createServer(app);
    const base = await listen(http);
    const server = new RedisServer(port, ['--appendonly', 'yes']);
    try {
      const times: number[] = [];
      const withCookie = new Jar();
      withCookie.cookie = `sid=${'A'.repeat(43)}.${'B'.repeat(43)}`; // forged: needs no store
      const forged = await withCookie.request(base, '/state');
      assert.equal(forged.status, 200, 'a request that needs no store is served');
      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        const jar = new Jar();
        const r = await jar.request(base, '/set', { json: { key: 'a', value: i } });
        times.push(Date.now() - started);
        assert.equal(r.status, 503);
        assert.equal(r.setCookie.length, 0, 'no new session cookie while the store is down');
      }
      await server.start();
      const started = Date.now();
      const jar = new Jar();
      let r = await jar.request(base, '/set', { json: { key: 'a', value: 1 } });
      while (r.status === 503 && Date.now() - started < 10_000)
        r = await jar.request(base, '/set', { json: { key: 'a', value: 1 } });
      assert.equal(r.status, 200, 'recovers without restarting the app');
      t.diagnostic(JSON.stringify({ downAnswerMs: times, recoveryMs: Date.now() - started }));
      // Target: connectTimeout + 100 ms. The bound asserted leaves room for a loaded 2-core machine.
      assert.ok(Math.max(...times) <= 1500, `503 near connectTimeout (${Math.max(...times)} ms)`);
    } finally {
      await close(http);
      await store.close();
      await server.stop();
    }
  });
});

const mysqlSkip = await needService('MariaDB', 3306);

describe('FLT-02 MariaDB connections cut mid-load (loopback proxy; the server stays up)', {
  skip: mysqlSkip,
  timeout: 120_000,
}, () => {
  it('only 503s while cut, cookies untouched, every acknowledged append intact after', async (t) => {
    const { MySQLStore } = await import('../../src/stores/mysql/index.js');
    const mysql = (await import('mysql2/promise')).default;
    const proxy = new TcpProxy({ targetPort: 3306 });
    await proxy.start();
    const table = randomTableName('baton_flt');
    const url = new URL(mysqlUrl);
    url.port = String(proxy.port);
    const store = new MySQLStore({ uri: url.toString(), tableName: table });
    await store.ensureTable();
    try {
      await outageScenario(t, {
        store,
        down: async () => proxy.cut(),
        up: async () => proxy.heal(),
      });
    } finally {
      await store.close();
      await proxy.close();
      const admin = await mysql.createConnection({ uri: mysqlUrl });
      await admin.query(`DROP TABLE IF EXISTS \`${table}\``);
      await admin.end();
    }
  });
});

const hasMemcached = await hasBinary('memcached');
if (!hasMemcached && process.env.BATON_REQUIRE_SERVICES === '1') throw new Error('memcached is required');

describe('FLT-02 Memcached killed (SIGKILL) mid-load, restarted empty', {
  skip: hasMemcached ? false : 'memcached is not installed',
  timeout: 120_000,
}, () => {
  it('only 503s while down, cookies untouched; after restart users are logged out, never a 5xx, appends kept once', async (t) => {
    // A private memcached on a free port: the shared one is never touched.
    const server = new MemcachedServer(await freePort());
    await server.start();
    const store = new MemcachedStore({
      servers: [`127.0.0.1:${server.port}`],
      commandTimeoutMs: 500,
      connectTimeoutMs: 500,
    });
    try {
      const figures = await outageScenario(t, {
        store,
        down: () => server.kill(),
        up: () => server.start(),
        persistent: false,
      });
      assert.equal(figures.freshSessions, figures.users, 'every user was logged out by the restart');
      assert.ok(figures.acked > 0);
    } finally {
      await store.close();
      await server.kill();
    }
  });
});
