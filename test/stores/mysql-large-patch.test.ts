/**
 * MariaDB: patches naming many keys are merged by the store and written whole (JSON_MERGE_PATCH
 * takes time in proportion to stored keys × patch keys there), with the same guards and results
 * as the one-statement patch; and a write statement still running after `statementTimeoutMs` is
 * cancelled by the server, not left to apply after the caller gave up. Times are measured in
 * `npm run bench:reliability -- --only mariadb-patch`, not here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { applyPatchData } from '../../src/stores/kit/index.js';
import { MySQLStore } from '../../src/stores/mysql/index.js';
import { LARGE_PATCH_KEYS } from '../../src/stores/mysql/whole-patch.js';
import type { Patch } from '../../src/stores/store.js';
import { newKey, record } from '../conformance/suite.js';
import { needService } from '../helpers/services.js';
import { endpoint, mysqlUrl, randomTableName } from './sql-quirks.js';

const table = randomTableName();
const { host, port } = endpoint(mysqlUrl, 3306);
const skip = await needService('MariaDB/MySQL', port, host);

describe('MySQLStore: large patches and statement time', { skip }, () => {
  const admin = mysql.createPool({ uri: mysqlUrl, connectionLimit: 3 });
  let mariadb = false;
  let store: MySQLStore;
  before(async () => {
    const [rows] = await admin.query('SELECT VERSION() AS v');
    mariadb = /mariadb/i.test(String((rows as { v: string }[])[0]?.v));
    store = new MySQLStore({ uri: mysqlUrl, tableName: table, maxSize: 256 * 1024 });
    await store.ensureTable();
  });
  after(async () => {
    await store?.close();
    await admin.query(`DROP TABLE IF EXISTS \`${table}\``);
    await admin.end();
  });

  const expiresAt = () => Date.now() + 60_000;

  it(`a patch of more than ${LARGE_PATCH_KEYS} keys (odd names among them) gives exactly what applying it gives`, async () => {
    const key = newKey();
    const start: Record<string, string> = { keep: '1', gone: '2', 'naïve "q"': '"x"' };
    for (let i = 0; i < 100; i++) start[`old-${i}`] = JSON.stringify(`o${i}`);
    await store.create(key, record({ data: start }));
    const set: Record<string, string> = { keep: '"changed"', 日本: '{"a":[1,2]}', 'a.b$c': 'null' };
    Object.defineProperty(set, '__proto__', { value: '{"admin":true}', enumerable: true });
    for (let i = 0; i < 200; i++) set[`new-${i}`] = JSON.stringify({ i, s: 'é'.repeat(i % 7) });
    const unset = ['gone', ...Array.from({ length: 50 }, (_, i) => `old-${i}`), 'never-there'];
    const patch: Patch = { set, unset, expiresAt: expiresAt() };
    const result = await store.patch(key, patch);
    assert.equal(result?.version, 2);
    const got = await store.get(key);
    assert.deepEqual(got?.data, applyPatchData(start, patch));
    assert.equal(Object.hasOwn(got!.data, '__proto__'), true, '__proto__ kept as data');
  });

  it('10 concurrent large patches of different keys on one session: every key kept', async () => {
    const key = newKey();
    await store.create(key, record({ data: {} }));
    await Promise.all(
      Array.from({ length: 10 }, (_, w) => {
        const set: Record<string, string> = {};
        for (let i = 0; i < 40; i++) set[`w${w}-${i}`] = String(i);
        return store.patch(key, { set, unset: [], expiresAt: expiresAt() });
      }),
    );
    const got = await store.get(key);
    assert.equal(Object.keys(got!.data).length, 400);
    assert.equal(got?.version, 11);
  });

  it('a large patch keeps the guards: version, lock token, size limit, a gone session', async () => {
    const key = newKey();
    await store.create(key, record({ data: { a: '1' } }));
    const many = (n: number, size = 1): Record<string, string> =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, JSON.stringify('x'.repeat(size))]));
    await assert.rejects(
      store.patch(key, { set: many(50), unset: [], expiresAt: expiresAt(), expectVersion: 7 }),
      { code: 'BATON_CONFLICT' },
    );
    const lock = await store.lock(key, 10_000);
    assert.ok(lock);
    await assert.rejects(
      store.patch(key, { set: many(50), unset: [], expiresAt: expiresAt(), lockToken: 'not-the-token' }),
      { code: 'BATON_CONFLICT' },
    );
    const locked = await store.patch(key, {
      set: many(50),
      unset: [],
      expiresAt: expiresAt(),
      lockToken: lock.token,
      releaseLock: true,
    });
    assert.equal(locked?.version, 2);
    assert.ok(await store.lock(key, 10_000), 'the lock was released in the same write');
    await assert.rejects(store.patch(key, { set: many(50, 6000), unset: [], expiresAt: expiresAt() }), {
      code: 'BATON_SESSION_TOO_LARGE',
    });
    assert.equal(
      Object.keys((await store.get(key))!.data).length,
      51,
      'nothing of the refused patch written',
    );
    await store.destroy(key);
    assert.equal(await store.patch(key, { set: many(50), unset: [], expiresAt: expiresAt() }), null);
  });

  it('MariaDB: a write still running after statementTimeoutMs is cancelled by the server and never applies', async (t) => {
    if (!mariadb) return t.skip('MySQL 8 has no statement time limit for writes');
    const key = newKey();
    await store.create(key, record({ data: { a: '1' } }));
    const limited = new MySQLStore({
      uri: mysqlUrl,
      tableName: table,
      statementTimeoutMs: 300,
      rowLockTimeoutMs: 5000,
    });
    // Another transaction holds the row: the patch waits for it, past its statement time.
    const holder = await admin.getConnection();
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM \`${table}\` WHERE \`key\` = ? FOR UPDATE`, [key]);
    try {
      const started = Date.now();
      await assert.rejects(
        limited.patch(key, { set: { late: '"yes"' }, unset: [], expiresAt: expiresAt() }),
        {
          code: 'BATON_STORE_UNAVAILABLE',
        },
      );
      const waited = Date.now() - started;
      t.diagnostic(`cancelled after ${waited} ms (statementTimeoutMs 300, row lock wait 5 s)`);
      assert.ok(waited < 2000, `cancelled near 300 ms, not at the 5 s lock wait (${waited} ms)`);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
      await limited.close();
    }
    // Had the statement gone on waiting, it would apply now that the row is free.
    const got = await store.get(key);
    assert.equal(got?.data.late, undefined, 'the cancelled write never applied');
    assert.equal(got?.version, 1);
  });
});
