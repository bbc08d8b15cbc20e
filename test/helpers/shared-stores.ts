/**
 * One engine seen through two store instances (two clients), as two app instances see it:
 * memory (one shared object), Redis (127.0.0.1:6379, a random prefix) and DynamoDB (dynalite on a
 * free port, a random table). A missing Redis skips its suite (fails with BATON_REQUIRE_SERVICES=1).
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import type { Store } from '../../src/stores/store.js';
import { sdkClient, startEngine, tableName, warnings } from './dynamodb.js';
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
      name: 'DynamoDB (dynalite)',
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
