/**
 * One engine seen through two store instances (two clients), as two app instances see it:
 * memory (one shared object), Redis (127.0.0.1:6379, a random prefix) and DynamoDB (the engine
 * BATON_DYNAMODB_ENGINE names, dynalite or DynamoDB Local, on a free port; a random table). A missing Redis skips its suite (fails with BATON_REQUIRE_SERVICES=1).
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import type { Store } from '../../src/stores/store.js';
import { ENGINE, sdkClient, startEngine, tableName, warnings } from './dynamodb.js';
import { needService } from './services.js';

export interface SharedStores {
  stores: [Store, Store];
  close(): Promise<void>;
}

export interface SharedEngine {
  name: string;
  /** False, or why the suite is skipped. */
  skip: string | false;
  open(): Promise<SharedStores>;
}

export async function sharedEngines(): Promise<SharedEngine[]> {
  return [
    {
      name: 'memory',
      skip: false,
      open: async () => {
        const store = new MemoryStore();
        return { stores: [store, store], close: () => store.close() };
      },
    },
    {
      name: 'Redis',
      skip: await needService('Redis', 6379),
      open: async () => {
        const prefix = `baton-t-${randomBytes(5).toString('hex')}:`;
        const a = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix });
        const b = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix });
        return { stores: [a, b], close: async () => void (await Promise.all([a.close(), b.close()])) };
      },
    },
    {
      name: `DynamoDB (${ENGINE.name})`,
      skip: false,
      open: async () => {
        const engine = await startEngine();
        const clients = [sdkClient(engine.endpoint), sdkClient(engine.endpoint)] as const;
        const table = tableName();
        const a = new DynamoDBStore({ tableName: table, client: clients[0], ...warnings() });
        await a.ensureTable();
        const b = new DynamoDBStore({ tableName: table, client: clients[1], ...warnings() });
        return {
          stores: [a, b],
          close: async () => {
            await Promise.all([a.close(), b.close()]);
            for (const c of clients) c.destroy();
            await engine.close();
          },
        };
      },
    },
  ];
}

/** The other engines, for rows that must hold on every store: file, PostgreSQL, MariaDB, Memcached. */
export async function otherEngines(): Promise<SharedEngine[]> {
  const { endpoint, mysqlUrl, postgresUrl, randomTableName } = await import('../stores/sql-quirks.js');
  const pgAt = endpoint(postgresUrl, 5432);
  const myAt = endpoint(mysqlUrl, 3306);
  return [
    {
      name: 'file',
      skip: false,
      open: async () => {
        const { mkdtempSync, rmSync } = await import('node:fs');
        const { tmpdir } = await import('node:os');
        const { join } = await import('node:path');
        const { FileStore } = await import('../../src/stores/file/index.js');
        const dir = mkdtempSync(join(tmpdir(), 'baton-shared-'));
        const a = new FileStore({ dir, fsync: false });
        const b = new FileStore({ dir, fsync: false });
        return {
          stores: [a, b],
          close: async () => {
            await Promise.all([a.close(), b.close()]);
            rmSync(dir, { recursive: true, force: true });
          },
        };
      },
    },
    {
      name: 'PostgreSQL',
      skip: await needService('PostgreSQL', pgAt.port, pgAt.host),
      open: async () => {
        const { PostgresStore } = await import('../../src/stores/postgres/index.js');
        const pg = (await import('pg')).default;
        const tableName = randomTableName('baton_shared');
        const a = new PostgresStore({ connectionString: postgresUrl, tableName });
        await a.ensureTable();
        const b = new PostgresStore({ connectionString: postgresUrl, tableName });
        return {
          stores: [a, b],
          close: async () => {
            await Promise.all([a.close(), b.close()]);
            const admin = new pg.Pool({ connectionString: postgresUrl, max: 1 });
            await admin.query(`DROP TABLE IF EXISTS "${tableName}"`);
            await admin.end();
          },
        };
      },
    },
    {
      name: 'MariaDB',
      skip: await needService('MariaDB', myAt.port, myAt.host),
      open: async () => {
        const { MySQLStore } = await import('../../src/stores/mysql/index.js');
        const mysql = (await import('mysql2/promise')).default;
        const tableName = randomTableName('baton_shared');
        const a = new MySQLStore({ uri: mysqlUrl, tableName });
        await a.ensureTable();
        const b = new MySQLStore({ uri: mysqlUrl, tableName });
        return {
          stores: [a, b],
          close: async () => {
            await Promise.all([a.close(), b.close()]);
            const admin = mysql.createPool({ uri: mysqlUrl, connectionLimit: 1 });
            await admin.query(`DROP TABLE IF EXISTS \`${tableName}\``);
            await admin.end();
          },
        };
      },
    },
    {
      name: 'Memcached',
      skip: await needService('Memcached', 11211),
      open: async () => {
        const { MemcachedStore } = await import('../../src/stores/memcached/index.js');
        const prefix = `baton-shared-${randomBytes(5).toString('hex')}:`;
        const a = new MemcachedStore({ servers: ['127.0.0.1:11211'], prefix });
        const b = new MemcachedStore({ servers: ['127.0.0.1:11211'], prefix });
        return { stores: [a, b], close: async () => void (await Promise.all([a.close(), b.close()])) };
      },
    },
  ];
}
