/** The reliability rows on the real MariaDB/MySQL, in a table of its own; raw dump by SELECT *. */
import { after } from 'node:test';
import mysql from 'mysql2/promise';
import { MySQLStore } from '../../src/stores/mysql/index.js';
import { hostOf, mysqlUrl, randomTableName, withService } from '../helpers/services-sql-file.js';
import { reliabilitySuite } from './store-suite.js';

const table = randomTableName('baton_rel');

await withService(
  'MySQLStore reliability',
  hostOf(mysqlUrl),
  async () => {
    const connection = await mysql.createConnection({ uri: mysqlUrl, connectTimeout: 2_000 });
    await connection.end();
  },
  () => {
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
  },
);
