import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { storeConformance } from '../../src/testing/index.js';
import { newKey, record } from '../conformance/suite.js';
import { needService } from '../helpers/services.js';
import { expressClusterTests } from './express-cluster.js';
import { deadlockRetryTest, endpoint, postgresUrl, randomTableName, sqlQuirks } from './sql-quirks.js';

const table = randomTableName();

const { host, port } = endpoint(postgresUrl, 5432);
const skip = await needService('PostgreSQL', port, host);

describe('PostgresStore', { skip }, () => {
  const admin = new pg.Pool({ connectionString: postgresUrl, max: 3 });
  after(async () => {
    await admin.query(`DROP TABLE IF EXISTS "${table}"`);
    await admin.end();
  });
  const makeStore = (extra: Record<string, unknown> = {}) =>
    new PostgresStore({ connectionString: postgresUrl, tableName: table, ...extra });

  storeConformance({
    name: 'PostgresStore',
    create: async () => {
      const store = makeStore({ maxSize: 64 * 1024 });
      await store.ensureTable();
      return store;
    },
    additionalTests: () => {
      sqlQuirks({
        makeStore,
        makeStoreOnPool: (extra = {}) => new PostgresStore({ pool: admin, tableName: table, ...extra }),
        // PostgreSQL: set_config per statement; MariaDB: SET STATEMENT. Not on MySQL 8.
        boundsPassedPools: true,
        forbidsNul: true,
        holdRowLock: async (key) => {
          const client = await admin.connect();
          await client.query('BEGIN');
          await client.query(`SELECT 1 FROM "${table}" WHERE "key" = $1 FOR UPDATE`, [key]);
          return async () => {
            await client.query('ROLLBACK');
            client.release();
          };
        },
        rawData: async (key) => {
          const { rows } = await admin.query(`SELECT "data" FROM "${table}" WHERE "key" = $1`, [key]);
          return rows[0]?.data;
        },
        unreachableStore: () =>
          new PostgresStore({
            connectionString: 'postgres://postgres@127.0.0.1:1/test',
            tableName: table,
          }),
        missingTableStore: () => makeStore({ tableName: randomTableName('baton_missing') }),
      });
    },
  });

  describe('PostgresStore specifics', () => {
    // PostgreSQL aborts a deadlock victim whole (SQLSTATE 40P01); the error has the shape pg gives it.
    deadlockRetryTest(
      admin,
      (pool) => new PostgresStore({ pool, tableName: table }),
      () => Object.assign(new Error('deadlock detected'), { code: '40P01', severity: 'ERROR' }),
    );

    it('ensureTable is idempotent, also when instances race', async () => {
      const stores = [makeStore(), makeStore(), makeStore()];
      await Promise.all(stores.map((s) => s.ensureTable()));
      await stores[0]?.ensureTable();
      const { rows } = await admin.query(
        `SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY indexname`,
        [table],
      );
      assert.deepEqual(
        rows.map((r) => r.indexname),
        [`${table}_expires_idx`, `${table}_pkey`, `${table}_uid_idx`],
      );
      await Promise.all(stores.map((s) => s.close()));
    });

    it('keeps times exact to the millisecond in timestamptz columns', async () => {
      const store = makeStore();
      const key = newKey();
      const s = record({ createdAt: 1_700_000_000_123, expiresAt: Date.now() + 60_001 });
      await store.create(key, s);
      const got = await store.get(key);
      assert.equal(got?.createdAt, s.createdAt);
      assert.equal(got?.expiresAt, s.expiresAt);
      assert.equal(got?.absoluteExpiresAt, s.absoluteExpiresAt);
      const { rows } = await admin.query(
        `SELECT "expires" > now() AS live, jsonb_typeof("data"->'name') AS t FROM "${table}" WHERE "key" = $1`,
        [key],
      );
      assert.deepEqual(rows[0], { live: true, t: 'string' });
      await store.close();
    });

    it('leaves a pool it was given open on close(), and uses a schema when named', async () => {
      const pool = new pg.Pool({ connectionString: postgresUrl, max: 2 });
      const schema = randomTableName('baton_schema');
      await pool.query(`CREATE SCHEMA "${schema}"`);
      const schemaTable = randomTableName();
      const store = new PostgresStore({ pool, tableName: schemaTable, schema });
      await store.ensureTable();
      const key = newKey();
      await store.create(key, record());
      await store.close();
      await store.close();
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}"."${schemaTable}"`);
      assert.equal(rows[0].n, 1, 'the pool still answers after close()');
      await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
      await pool.end();
    });

    it('survives the server terminating its connections: a typed error at most, then it recovers', async () => {
      const app = randomTableName('baton_app');
      const url = new URL(postgresUrl);
      url.searchParams.set('application_name', app);
      const store = new PostgresStore({ connectionString: url.toString(), tableName: table });
      const key = newKey();
      await store.create(key, record());
      const gone = async () => {
        const { rows } = await admin.query(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
          [app],
        );
        return rows[0].n === 0;
      };
      const kill = () =>
        admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
          app,
        ]);
      const typedOrFine = (outcomes: PromiseSettledResult<unknown>[]) => {
        for (const o of outcomes) {
          if (o.status === 'rejected')
            assert.equal(o.reason.code, 'BATON_STORE_UNAVAILABLE', String(o.reason));
        }
      };
      // 1. An idle pooled connection killed: the pool's 'error' event must not end the process.
      await kill();
      for (let i = 0; i < 100 && !(await gone()); i++) await new Promise((r) => setTimeout(r, 10));
      typedOrFine(await Promise.allSettled([store.get(key)]));
      // 2. A connection killed while a query runs on it.
      // Settled from the start: it may fail while the kill is still on its way.
      const busy = Promise.allSettled([store.get(key)]);
      await kill();
      typedOrFine([...(await busy), ...(await Promise.allSettled([store.get(key)]))]);
      // Poll until the pool has replaced its connections; no fixed sleep.
      let recovered = null;
      for (let i = 0; i < 50 && !recovered; i++) recovered = await store.get(key).catch(() => null);
      assert.deepEqual(recovered?.data, record().data);
      await store.close();
    });

    it('maps a pool that cannot hand out a connection in time to StoreUnavailableError', async () => {
      const store = makeStore({ poolSize: 1, connectTimeoutMs: 300, rowLockTimeoutMs: 2_000 });
      const key = newKey();
      await store.create(key, record());
      // Occupy the pool's only connection: a patch waiting for a row another transaction holds.
      const client = await admin.connect();
      await client.query('BEGIN');
      await client.query(`SELECT 1 FROM "${table}" WHERE "key" = $1 FOR UPDATE`, [key]);
      try {
        // Checked from the start, so its rejection is never unhandled.
        const blocked = assert.rejects(
          store.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 60_000 }),
          { code: 'BATON_LOCK_TIMEOUT' },
        );
        await assert.rejects(store.get(key), (err: { code?: string; message: string; cause?: unknown }) => {
          assert.equal(err.code, 'BATON_STORE_UNAVAILABLE');
          assert.match(err.message, /not reachable.*timeout/i);
          assert.ok(err.cause);
          return true;
        });
        await blocked;
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
      await store.close();
    });

    describe('lock waiters woken by NOTIFY (lockNotify)', () => {
      const expiresAt = () => Date.now() + 60_000;
      /** Takes the lock as a waiter does: try, and on refusal wait for the release, counting tries. */
      const acquire = async (store: PostgresStore, key: string, waitMs: number) => {
        let calls = 0;
        for (;;) {
          calls++;
          const handle = await store.lock(key, 30_000);
          if (handle) return { handle, calls, at: Date.now() };
          await store.waitForUnlock(key, waitMs);
        }
      };

      it('declares lockNotify; a waiter behind a 2 s holder gets the lock at the release, in 2 calls', async () => {
        const holder = makeStore();
        const waiter = makeStore();
        assert.equal(waiter.capabilities.lockNotify, true);
        const key = newKey();
        await holder.create(key, record());
        const held = await holder.lock(key, 30_000);
        assert.ok(held);
        let releasedAt = 0;
        const release = new Promise<void>((resolve) =>
          setTimeout(async () => {
            await held.release();
            releasedAt = Date.now();
            resolve();
          }, 2_000),
        );
        // Each wait may last 20 s: only the notification ends it early.
        const got = await acquire(waiter, key, 20_000);
        await release;
        assert.ok(got.calls <= 3, `${got.calls} lock calls`);
        assert.ok(got.at - releasedAt < 10_000, `got the lock ${got.at - releasedAt} ms after the release`);
        assert.deepEqual(got.handle.session?.data, record().data);
        await got.handle.release();
        await Promise.all([holder.close(), waiter.close()]);
      });

      it('a patch that releases the lock and a destroy of a locked session wake waiters too (pool passed in)', async () => {
        const holder = makeStore();
        const waiter = new PostgresStore({ pool: admin, tableName: table });
        for (const how of ['patch', 'destroy'] as const) {
          const key = newKey();
          await holder.create(key, record());
          const held = await holder.lock(key, 30_000);
          assert.ok(held);
          const release = new Promise<void>((resolve) =>
            setTimeout(async () => {
              if (how === 'patch') {
                await holder.patch(key, {
                  set: { by: '"holder"' },
                  unset: [],
                  expiresAt: expiresAt(),
                  lockToken: held.token,
                  releaseLock: true,
                });
              } else {
                await holder.destroy(key);
              }
              resolve();
            }, 500),
          );
          const started = Date.now();
          const got = await acquire(waiter, key, 20_000);
          await release;
          assert.ok(got.calls <= 3, `${how}: ${got.calls} lock calls`);
          assert.ok(got.at - started < 10_000, `${how}: waited ${got.at - started} ms`);
          if (how === 'patch') assert.equal(got.handle.session?.data.by, '"holder"');
          else assert.equal(got.handle.session, null, 'the destroyed session is gone');
          await got.handle.release();
        }
        await Promise.all([holder.close(), waiter.close()]);
      });

      it('one LISTEN connection per store, however many waiters; a wait ends at its timeout and after close()', async () => {
        const app = randomTableName('baton_listen');
        const url = new URL(postgresUrl);
        url.searchParams.set('application_name', app);
        const store = new PostgresStore({ connectionString: url.toString(), tableName: table });
        const keys = Array.from({ length: 5 }, () => newKey());
        const started = Date.now();
        await Promise.all(keys.map((k) => store.waitForUnlock(k, 300)));
        assert.ok(Date.now() - started >= 250, 'nothing released: the waits ran to their timeout');
        const listening = async (): Promise<number> => {
          const { rows } = await admin.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
            [app],
          );
          return rows[0].n;
        };
        // Poll (the connection opens in the background): no fixed sleep.
        for (let i = 0; i < 100 && (await listening()) === 0; i++)
          await new Promise((r) => setTimeout(r, 50));
        await Promise.all(keys.map((k) => store.waitForUnlock(k, 50)));
        assert.equal(await listening(), 1);
        const pending = store.waitForUnlock(newKey(), 60_000);
        await store.close();
        await pending;
        await store.waitForUnlock(newKey(), 60_000);
      });
    });

    it('validates its options with ConfigError naming the option', () => {
      const cases: [Record<string, unknown>, string][] = [
        [{}, 'connectionString'],
        [{ connectionString: postgresUrl, pool: {} }, 'connectionString'],
        [{ connectionString: postgresUrl, tableName: 'a; DROP TABLE x' }, 'tableName'],
        [{ connectionString: postgresUrl, schema: 'a"b' }, 'schema'],
        [{ connectionString: postgresUrl, maxSize: 0 }, 'maxSize'],
        [{ connectionString: postgresUrl, rowLockTimeoutMs: -1 }, 'rowLockTimeoutMs'],
        [{ pool: {} }, 'pool'],
      ];
      for (const [options, option] of cases) {
        assert.throws(
          () => new PostgresStore(options as never),
          (err: { code?: string; option?: string }) => err.code === 'BATON_CONFIG' && err.option === option,
          JSON.stringify(options),
        );
      }
    });
  });

  expressClusterTests('PostgresStore', async () => {
    const store = makeStore();
    await store.ensureTable();
    return store;
  });
});
