import { createRequire } from 'node:module';
import expressSession from 'express-session';
import mysql from 'mysql2/promise';
import { expressMysqlSession } from '../../src/legacy/index.js';
import { MySQLStore } from '../../src/stores/mysql/index.js';
import { legacySuite } from '../helpers/legacy-suite.js';
import { needService } from '../helpers/services.js';
import { endpoint, mysqlUrl, randomTableName } from '../stores/sql-quirks.js';

// The package ships no types.
const mysqlSession = createRequire(import.meta.url)('express-mysql-session');
const { host, port } = endpoint(mysqlUrl, 3306);

legacySuite({
  name: 'express-mysql-session',
  skip: await needService('MySQL/MariaDB', port, host),
  async open() {
    const pool = mysql.createPool({ uri: mysqlUrl, connectionLimit: 4 });
    const table = randomTableName('legacy_sessions');
    const PeerStore = mysqlSession(expressSession);
    // express-mysql-session creates its own table (its schema.sql) by default.
    const peer = new PeerStore({ schema: { tableName: table }, clearExpired: false }, pool);
    await peer.onReady();
    const batonTable = randomTableName();
    const store = new MySQLStore({ pool, tableName: batonTable });
    await store.ensureTable();
    return {
      peer,
      source: expressMysqlSession({ pool, table }),
      store,
      async close() {
        await store.close();
        await pool.query(`DROP TABLE IF EXISTS \`${table}\`, \`${batonTable}\``);
        await pool.end();
      },
    };
  },
});
