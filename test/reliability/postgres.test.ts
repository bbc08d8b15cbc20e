/** The reliability rows on the real PostgreSQL, in a table of its own; raw dump by SELECT *. */
import { after, describe } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { needService } from '../helpers/services.js';
import { endpoint, postgresUrl, randomTableName } from '../stores/sql-quirks.js';
import { reliabilitySuite } from './store-suite.js';

const table = randomTableName('baton_rel');
const { host, port } = endpoint(postgresUrl, 5432);
const skip = await needService('PostgreSQL', port, host);

describe('PostgreSQL', { skip }, () => {
  const admin = new pg.Pool({ connectionString: postgresUrl, max: 2 });
  after(async () => {
    await admin.query(`DROP TABLE IF EXISTS "${table}"`);
    await admin.end();
  });
  reliabilitySuite(
    'PostgresStore',
    async () => {
      const store = new PostgresStore({ connectionString: postgresUrl, tableName: table });
      await store.ensureTable();
      return store;
    },
    {
      repeat: 5,
      logoutRuns: 50,
      sessions: 200,
      dump: async () => {
        const { rows } = await admin.query(`SELECT * FROM "${table}"`);
        return rows.map((r) => JSON.stringify(r));
      },
    },
  );
});
