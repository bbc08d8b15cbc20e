/**
 * LOAD-05, the exit half: builds a store with its own client (`REL_ENGINE`), a session manager
 * and an Express server, serves a few requests (new session, read, write), runs `gc()`, then
 * closes the server, the manager and the store and lets go of IPC. Nothing else is done to end
 * the process: the runner checks that it exits by itself (no timer or socket keeps it alive).
 *
 * IPC: one `ready` message `{ closedAt }` when everything is closed.
 */
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import { session } from '../src/adapters/express/index.js';
import type { Store } from '../src/stores/store.js';
import { BENCH_SECRET } from './scenarios.js';

const engine = process.env.REL_ENGINE ?? '';
const table = process.env.REL_TABLE ?? 'rel_exit';

async function makeStore(): Promise<Store> {
  switch (engine) {
    case 'dynamodb': {
      const { DynamoDBStore } = await import('../src/stores/dynamodb/index.js');
      const store = new DynamoDBStore({
        tableName: table,
        clientConfig: {
          endpoint: process.env.REL_ENDPOINT ?? '',
          region: 'us-east-1',
          credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
        },
        onWarning: () => {},
      });
      await store.ensureTable();
      return store;
    }
    case 'redis': {
      const { RedisStore } = await import('../src/stores/redis/index.js');
      return new RedisStore({ url: process.env.REL_REDIS_URL ?? '', prefix: `${table}:` });
    }
    case 'postgres': {
      const { PostgresStore } = await import('../src/stores/postgres/index.js');
      const store = new PostgresStore({ connectionString: process.env.REL_PG_URL ?? '', tableName: table });
      await store.ensureTable();
      return store;
    }
    case 'mysql': {
      const { MySQLStore } = await import('../src/stores/mysql/index.js');
      const store = new MySQLStore({ uri: process.env.REL_MYSQL_URL ?? '', tableName: table });
      await store.ensureTable();
      return store;
    }
  }
  throw new Error(`unknown engine ${engine}`);
}

/** One request without keep-alive (a pooled client socket would keep this process alive itself). */
function send(port: number, method: string, path: string, cookie?: string) {
  return new Promise<{ status: number; cookie?: string }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, agent: false, headers: cookie ? { cookie } : {} },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, cookie: res.headers['set-cookie']?.[0]?.split(';')[0] }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const store = await makeStore();
const middleware = session({ store, secret: BENCH_SECRET });
const app = express();
app.use(middleware as unknown as RequestHandler);
app.post('/seed', (req, res) => {
  (req as unknown as { session: Record<string, unknown> }).session.user = 'exit-check';
  res.json({ ok: true });
});
app.get('/read', (req, res) => {
  res.json({ user: (req as unknown as { session: Record<string, unknown> }).session.user ?? null });
});
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const port = (server.address() as AddressInfo).port;
const seeded = await send(port, 'POST', '/seed');
const read = await send(port, 'GET', '/read', seeded.cookie);
if (seeded.status !== 200 || read.status !== 200 || !seeded.cookie) {
  throw new Error(`requests failed: ${seeded.status} ${read.status}`);
}
await store.gc?.();
await new Promise((resolve) => server.close(resolve));
await middleware.manager.close();
await store.close();
process.send?.({ type: 'ready', closedAt: Date.now() }, () => process.disconnect());
