import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { MySQLStore } from '../../src/stores/mysql/index.js';
import { storeConformance } from '../../src/testing/index.js';
import { newKey, record } from '../conformance/suite.js';
import { needService } from '../helpers/services.js';
import { expressClusterTests } from './express-cluster.js';
import { deadlockRetryTest, endpoint, mysqlUrl, randomTableName, sqlQuirks } from './sql-quirks.js';

const table = randomTableName();

const { host, port } = endpoint(mysqlUrl, 3306);
const skip = await needService('MariaDB/MySQL', port, host);

describe('MySQLStore', { skip }, () => {
  const admin = mysql.createPool({ uri: mysqlUrl, connectionLimit: 3 });
  after(async () => {
    await admin.query(`DROP TABLE IF EXISTS \`${table}\``);
    await admin.end();
  });
  const makeStore = (extra: Record<string, unknown> = {}) =>
    new MySQLStore({ uri: mysqlUrl, tableName: table, ...extra });

  storeConformance({
    name: 'MySQLStore',
    create: async () => {
      const store = makeStore({ maxSize: 64 * 1024 });
      await store.ensureTable();
      return store;
    },
    additionalTests: () => {
      sqlQuirks({
        makeStore,
        makeStoreOnPool: (extra = {}) => new MySQLStore({ pool: admin, tableName: table, ...extra }),
        // PostgreSQL: set_config per statement; MariaDB: SET STATEMENT. Not on MySQL 8.
        boundsPassedPools: true,
        forbidsNul: false,
        holdRowLock: async (key) => {
          const connection = await admin.getConnection();
          await connection.query('BEGIN');
          await connection.query(`SELECT 1 FROM \`${table}\` WHERE \`key\` = ? FOR UPDATE`, [key]);
          return async () => {
            await connection.query('ROLLBACK');
            connection.release();
          };
        },
        rawData: async (key) => {
          const [rows] = await admin.query(`SELECT \`data\` FROM \`${table}\` WHERE \`key\` = ?`, [key]);
          const data = (rows as { data: unknown }[])[0]?.data;
          return typeof data === 'string' ? JSON.parse(data) : (data as Record<string, unknown>);
        },
        unreachableStore: () => new MySQLStore({ uri: 'mysql://root@127.0.0.1:1/test', tableName: table }),
        missingTableStore: () => makeStore({ tableName: randomTableName('baton_missing') }),
      });
    },
  });

  describe('MySQLStore specifics', () => {
    // InnoDB rolls a deadlock victim back whole; the error has the shape mysql2 gives it.
    deadlockRetryTest(
      admin,
      (pool) => new MySQLStore({ pool, tableName: table }),
      () =>
        Object.assign(new Error('Deadlock found when trying to get lock; try restarting transaction'), {
          code: 'ER_LOCK_DEADLOCK',
          errno: 1213,
          sqlState: '40001',
        }),
    );

    it('declares lockNotify false and has no waitForUnlock (waiters poll with backoff)', async () => {
      const store = makeStore();
      assert.equal(store.capabilities.lockNotify, false);
      assert.equal('waitForUnlock' in store, false);
      assert.ok(Object.isFrozen(store.capabilities));
      await store.close();
    });

    it('ensureTable is idempotent, also when instances race', async () => {
      const stores = [makeStore(), makeStore(), makeStore()];
      await Promise.all(stores.map((s) => s.ensureTable()));
      await stores[0]?.ensureTable();
      const [rows] = await admin.query(`SHOW INDEX FROM \`${table}\``);
      const names = new Set((rows as { Key_name: string }[]).map((r) => r.Key_name));
      assert.deepEqual([...names].sort(), ['PRIMARY', `${table}_expires_idx`, `${table}_uid_idx`]);
      await Promise.all(stores.map((s) => s.close()));
    });

    it('tells keys apart by case and by trailing spaces (binary key column)', async () => {
      const store = makeStore();
      const key = newKey();
      await store.create(`${key}a`, record({ data: { which: '"lower"' } }));
      await store.create(`${key}A`, record({ data: { which: '"upper"' } }));
      await store.create(`${key}A `, record({ data: { which: '"space"' } }));
      assert.equal((await store.get(`${key}a`))?.data.which, '"lower"');
      assert.equal((await store.get(`${key}A`))?.data.which, '"upper"');
      assert.equal((await store.get(`${key}A `))?.data.which, '"space"');
      await store.close();
    });

    it('leaves a pool it was given open on close()', async () => {
      const pool = mysql.createPool({ uri: mysqlUrl, connectionLimit: 2 });
      const store = new MySQLStore({ pool, tableName: table });
      const key = newKey();
      await store.create(key, record());
      await store.close();
      await store.close();
      const [rows] = await pool.query(`SELECT COUNT(*) AS n FROM \`${table}\` WHERE \`key\` = ?`, [key]);
      assert.equal(Number((rows as { n: unknown }[])[0]?.n), 1, 'the pool still answers after close()');
      await pool.end();
    });

    it('validates its options with ConfigError naming the option', () => {
      const cases: [Record<string, unknown>, string][] = [
        [{}, 'uri'],
        [{ uri: mysqlUrl, pool: {} }, 'uri'],
        [{ uri: mysqlUrl, tableName: 'a`b' }, 'tableName'],
        [{ uri: mysqlUrl, batchSize: 1.5 }, 'batchSize'],
        [{ uri: mysqlUrl, connectTimeoutMs: 0 }, 'connectTimeoutMs'],
        [{ pool: {} }, 'pool'],
      ];
      for (const [options, option] of cases) {
        assert.throws(
          () => new MySQLStore(options as never),
          (err: { code?: string; option?: string }) => err.code === 'BATON_CONFIG' && err.option === option,
          JSON.stringify(options),
        );
      }
    });
  });

  expressClusterTests('MySQLStore', async () => {
    const store = makeStore();
    await store.ensureTable();
    return store;
  });
});
