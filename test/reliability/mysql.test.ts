/** The reliability rows on the real MariaDB/MySQL, in a table of its own; raw dump by SELECT *. */
import { after, describe } from 'node:test';
import mysql from 'mysql2/promise';
import { MySQLStore } from '../../src/stores/mysql/index.js';
import { needService } from '../helpers/services.js';
import { endpoint, mysqlUrl, randomTableName } from '../stores/sql-quirks.js';
import { reliabilitySuite } from './store-suite.js';

const table = randomTableName('baton_rel');
const { host, port } = endpoint(mysqlUrl, 3306);
const skip = await needService('MariaDB', port, host);

describe('MariaDB', { skip }, () => {
  const admin = mysql.createPool({ uri: mysqlUrl, connectionLimit: 2 });
  after(async () => {
    await admin.query(`DROP TABLE IF EXISTS \`${table}\``);
    await admin.end();
  });
  reliabilitySuite(
    'MySQLStore',
    async () => {
      const store = new MySQLStore({ uri: mysqlUrl, tableName: table });
      await store.ensureTable();
      return store;
    },
    {
      repeat: 5,
      logoutRuns: 50,
      sessions: 200,
      dump: async () => {
        const [rows] = await admin.query(`SELECT * FROM \`${table}\``);
        // Binary columns come back as Buffers: dump them as text, as an attacker would read them.
        return (rows as Record<string, unknown>[]).map((r) =>
          JSON.stringify(r, (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString('utf8') : v)),
        );
      },
    },
  );
});
