import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { truncateIp } from '../../src/core/devices.js';
import { SessionManager } from '../../src/core/manager.js';
import type { SessionOptions } from '../../src/core/options.js';
import { DynamoDBStore, type LocalDynamo } from '../../src/stores/dynamodb/index.js';
import { FileStore } from '../../src/stores/file/index.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { MySQLStore } from '../../src/stores/mysql/index.js';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import type { Store } from '../../src/stores/store.js';
import { countCalls } from '../helpers/counting-store.js';
import { sdkClient, startEngine, tableName, warnings } from '../helpers/dynamodb.js';
import { needService } from '../helpers/services.js';

const SECRET = 'devices-secret-devices-secret-devices-secret';
const CHROME_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_WIN = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';

const redisSkip = await needService('Redis', 6379);
const postgresSkip = await needService('PostgreSQL', 5432);
const mysqlSkip = await needService('MariaDB', 3306);

function cookieOf(setCookie: string[]): string {
  return setCookie[0]?.split(';')[0] ?? '';
}

const request = (cookie: string | undefined, ua: string, client = '203.0.113.77') => ({
  cookie,
  header: (name: string) => (name === 'user-agent' ? ua : undefined),
  client,
});

function devicesTests(name: string, makeStore: () => Promise<Store>) {
  describe(`devices on ${name}`, () => {
    const stores: Store[] = [];
    after(async () => {
      for (const s of stores) await s.close();
    });
    const manager = async (options: Partial<SessionOptions> = {}) => {
      const store = await makeStore();
      stores.push(store);
      return new SessionManager({ store, secret: SECRET, devices: { ip: true }, ...options });
    };
    const login = async (m: SessionManager, userId: string, ua: string) => {
      const s = await m.load(request(undefined, ua));
      await s.login(userId);
      return { session: s, cookie: cookieOf((await m.commit(s)).setCookie) };
    };

    it('two browsers are listed with distinct descriptions; `except` keeps exactly the current one', async () => {
      const m = await manager();
      const user = `u-${randomBytes(4).toString('hex')}`;
      await login(m, user, CHROME_MAC);
      const firefox = await login(m, user, FIREFOX_WIN);
      const current = await m.load(request(firefox.cookie, FIREFOX_WIN));
      assert.equal(current.__baton_device, undefined, 'the device entry is no session data');
      assert.deepEqual(Object.keys(current), ['userId']);

      const listed = await m.listByUser(user, { current });
      assert.equal(listed.length, 2);
      const descriptions = listed.map((s) => s.device?.description).sort();
      assert.deepEqual(descriptions, ['Chrome 131 on macOS', 'Firefox 133 on Windows']);
      assert.deepEqual(listed.find((s) => s.current)?.device?.description, 'Firefox 133 on Windows');
      for (const s of listed) {
        assert.equal(s.device?.ip, '203.0.113.0');
        assert.ok((s.device?.lastSeenAt ?? 0) >= (s.device?.createdAt ?? Number.POSITIVE_INFINITY));
      }

      assert.equal(await m.destroyUser(user, { except: current }), 1);
      const left = await m.listByUser(user, { current });
      assert.equal(left.length, 1);
      assert.equal(left[0]?.current, true);
      await m.commit(current);
    });

    it('maxSessionsPerUser: 1 — two concurrent logins leave exactly one session', async () => {
      const m = await manager({ maxSessionsPerUser: 1 });
      const user = `u-${randomBytes(4).toString('hex')}`;
      await login(m, user, CHROME_MAC);
      const [a, b] = [
        await m.load(request(undefined, CHROME_MAC)),
        await m.load(request(undefined, FIREFOX_WIN)),
      ];
      await Promise.all([a.login(user), b.login(user)]);
      await Promise.all([m.commit(a), m.commit(b)]);
      assert.equal((await m.listByUser(user)).length, 1);
    });

    it('maxSessionsPerUser: 2 — a third login signs out the least recently seen', async () => {
      const m = await manager({ maxSessionsPerUser: 2 });
      const user = `u-${randomBytes(4).toString('hex')}`;
      const first = await login(m, user, CHROME_MAC);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const second = await login(m, user, FIREFOX_WIN);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await login(m, user, FIREFOX_WIN);
      const keys = (await m.listByUser(user)).map((s) => s.key);
      assert.equal(keys.length, 2);
      assert.ok(!keys.includes(m.keyFor(first.session.id)), 'the oldest is gone');
      assert.ok(keys.includes(m.keyFor(second.session.id)));
    });
  });
}

describe('devices: last seen', () => {
  it('moves only with the writes touchAfter makes: no write, no move within it', async () => {
    const store = new MemoryStore();
    const calls = countCalls(store);
    const m = new SessionManager({ store, secret: SECRET, devices: true, lifetime: 100, touchAfter: 1 });
    const s = await m.load(request(undefined, CHROME_MAC));
    await s.login('u1');
    const cookie = cookieOf((await m.commit(s)).setCookie);
    const seen = async () => (await m.listByUser('u1'))[0]?.device?.lastSeenAt;
    const first = await seen();
    calls.reset();
    await m.commit(await m.load(request(cookie, CHROME_MAC)));
    assert.deepEqual(calls.counts, { get: 1 }, 'within touchAfter: a read, no write');
    assert.equal(await seen(), first);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    calls.reset();
    await m.commit(await m.load(request(cookie, CHROME_MAC)));
    assert.deepEqual(
      calls.counts,
      { get: 1, patch: 1 },
      'past touchAfter: one write, which carries last seen',
    );
    assert.ok(((await seen()) ?? 0) > (first ?? 0));
  });

  it('truncates addresses: IPv4 to /24, IPv6 to /48', () => {
    assert.equal(truncateIp('198.51.100.23'), '198.51.100.0');
    assert.equal(truncateIp('::ffff:198.51.100.23'), '198.51.100.0');
    assert.equal(truncateIp('2001:db8:1:2::5'), '2001:db8:1::');
    assert.equal(truncateIp('not an ip'), undefined);
  });

  it('refuses maxSessionsPerUser on a store without a user index, and a bad devices value', () => {
    const store = new MemoryStore();
    assert.throws(() => new SessionManager({ store, secret: SECRET, maxSessionsPerUser: 0 }), {
      code: 'BATON_CONFIG',
      message: /maxSessionsPerUser/,
    });
    assert.throws(() => new SessionManager({ store, secret: SECRET, devices: 'yes' as never }), {
      code: 'BATON_CONFIG',
      message: /devices/,
    });
  });
});

devicesTests('memory', async () => new MemoryStore());

describe('on Redis', { skip: redisSkip }, () => {
  devicesTests(
    'Redis',
    async () =>
      new RedisStore({
        url: 'redis://127.0.0.1:6379/0',
        prefix: `baton-test-${randomBytes(5).toString('hex')}:`,
      }),
  );
});

describe('on PostgreSQL', { skip: postgresSkip }, () => {
  const tables: string[] = [];
  after(async () => {
    const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' });
    await client.connect();
    for (const t of tables) await client.query(`DROP TABLE IF EXISTS "${t}"`);
    await client.end();
  });
  devicesTests('PostgreSQL', async () => {
    const table = `baton_dev_${randomBytes(5).toString('hex')}`;
    tables.push(table);
    const store = new PostgresStore({
      connectionString: 'postgres://postgres@127.0.0.1:5432/test',
      tableName: table,
    });
    await store.ensureTable();
    return store;
  });
});

describe('on MariaDB', { skip: mysqlSkip }, () => {
  const tables: string[] = [];
  after(async () => {
    const connection = await mysql.createConnection({ uri: 'mysql://root@127.0.0.1:3306/test' });
    for (const t of tables) await connection.query(`DROP TABLE IF EXISTS \`${t}\``);
    await connection.end();
  });
  devicesTests('MariaDB', async () => {
    const table = `baton_dev_${randomBytes(5).toString('hex')}`;
    tables.push(table);
    const store = new MySQLStore({
      uri: 'mysql://root@127.0.0.1:3306/test',
      tableName: table,
    });
    await store.ensureTable();
    return store;
  });
});

describe('on files', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  devicesTests('file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-devices-'));
    dirs.push(dir);
    return new FileStore({ dir, fsync: false });
  });
});

describe('on DynamoDB', () => {
  let engine: LocalDynamo | undefined;
  after(() => engine?.close());
  devicesTests('DynamoDB', async () => {
    engine ??= await startEngine();
    const store = new DynamoDBStore({
      tableName: tableName(),
      client: sdkClient(engine.endpoint),
      ...warnings(),
    });
    await store.ensureTable();
    return store;
  });
});
