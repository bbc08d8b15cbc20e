import { createRequire } from 'node:module';
import expressSession from 'express-session';
import pg from 'pg';
import { connectPgSimple } from '../../src/legacy/index.js';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { legacySuite } from '../helpers/legacy-suite.js';
import { needService } from '../helpers/services.js';
import { endpoint, postgresUrl, randomTableName } from '../stores/sql-quirks.js';

// The package ships no types.
const connectPg = createRequire(import.meta.url)('connect-pg-simple');
const { host, port } = endpoint(postgresUrl, 5432);

legacySuite({
  name: 'connect-pg-simple',
  skip: await needService('PostgreSQL', port, host),
  async open() {
    const pool = new pg.Pool({ connectionString: postgresUrl, max: 4 });
    const table = randomTableName('legacy_session');
    const PeerStore = connectPg(expressSession);
    // connect-pg-simple creates its own table (its table.sql) when asked.
    const peer = new PeerStore({
      pool,
      tableName: table,
      createTableIfMissing: true,
      pruneSessionInterval: false,
    });
    const batonTable = randomTableName();
    const store = new PostgresStore({ pool, tableName: batonTable });
    await store.ensureTable();
    return {
      peer,
      source: connectPgSimple({ pool, table }),
      store,
      async close() {
        await store.close();
        await pool.query(`DROP TABLE IF EXISTS "${table}", "${batonTable}"`);
        await pool.end();
      },
    };
  },
});
