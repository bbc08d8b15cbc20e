import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { newKey, record, storeConformance } from '../conformance/suite.js';
import { hostOf, postgresUrl, randomTableName, withService } from '../helpers/services-sql-file.js';
import { sqlQuirks } from './sql-quirks.js';

const table = randomTableName();

await withService(
  'PostgresStore',
  hostOf(postgresUrl),
  async () => {
    const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 2_000 });
    await client.connect();
    await client.end();
  },
  () => {
    const admin = new pg.Pool({ connectionString: postgresUrl, max: 3 });
    after(async () => {
      await admin.query(`DROP TABLE IF EXISTS "${table}"`);
      await admin.end();
    });
    const makeStore = (extra: Record<string, unknown> = {}) =>
      new PostgresStore({ connectionString: postgresUrl, tableName: table, ...extra });

    storeConformance(
      'PostgresStore',
      async () => {
        const store = makeStore({ maxSize: 64 * 1024 });
        await store.ensureTable();
        return store;
      },
      {
        additionalTests: () => {
          sqlQuirks({
            makeStore,
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
      },
    );

    describe('PostgresStore specifics', () => {
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
        await pool.query('CREATE SCHEMA IF NOT EXISTS baton_test_schema');
        const schemaTable = randomTableName();
        const store = new PostgresStore({ pool, tableName: schemaTable, schema: 'baton_test_schema' });
        await store.ensureTable();
        const key = newKey();
        await store.create(key, record());
        await store.close();
        await store.close();
        const { rows } = await pool.query(
          `SELECT count(*)::int AS n FROM baton_test_schema."${schemaTable}"`,
        );
        assert.equal(rows[0].n, 1, 'the pool still answers after close()');
        await pool.query(`DROP TABLE baton_test_schema."${schemaTable}"`);
        await pool.end();
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
  },
);
