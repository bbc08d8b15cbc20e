/**
 * One app instance of the reliability runs (`bench/reliability.ts`), in its own process: an
 * Express app on a free loopback port, either baton's Express middleware over one store
 * (`REL_MODE=baton`) or the floor (`REL_MODE=floor`: one raw store read per request, no session
 * layer), on `REL_ENGINE` = dynamodb | redis | postgres | mysql.
 *
 * Routes as in `bench/app.ts`: `POST /seed?bytes=N` (a new session), `GET /read` (reads it,
 * changes nothing), `POST /write` (changes one key). The floor serves `/seed` and `/read` only.
 * With `REL_GC_EVERY_S` the instance runs `store.gc()` on that period (its own unref'd timer).
 *
 * IPC: `ready` (port) · `stats` (RSS, heap, requests, failures and their error codes, gc totals) ·
 * `gc` (one gc now).
 * On SIGTERM or a lost parent it closes the server, the manager and the store, then exits.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express, { type Request, type RequestHandler, type Response } from 'express';
import type { Store } from '../src/stores/store.js';
import { BENCH_SECRET } from './scenarios.js';
import { payload, type Session, seedReadWriteRoutes } from './session-routes.js';

const engine = process.env.REL_ENGINE ?? '';
const mode = process.env.REL_MODE ?? 'baton';
const table = process.env.REL_TABLE ?? 'rel_bench';
const prefix = process.env.REL_PREFIX ?? 'rel:';
const lifetime = Number(process.env.REL_LIFETIME_S ?? 86_400);
const gcEveryS = Number(process.env.REL_GC_EVERY_S ?? 0);
const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' };

let requests = 0;
let failures = 0;
/** Errors that reached the error handler, by `code` (or name), and the last message. */
const errorCodes: Record<string, number> = {};
let lastError = '';
const gcTotals = { runs: 0, deleted: 0, errors: 0, lastError: '' };
const closers: Array<() => Promise<unknown>> = [];

async function awsLite(): Promise<any> {
  const create = (await import('@aws-lite/client')).default as unknown as (c: object) => Promise<any>;
  return create({
    region: REGION,
    endpoint: process.env.REL_ENDPOINT,
    ...CREDENTIALS,
    keepAlive: true,
    plugins: [],
  });
}

async function batonStore(): Promise<Store & { ensureTable?: () => Promise<unknown> }> {
  switch (engine) {
    case 'dynamodb': {
      const { DynamoDBStore } = await import('../src/stores/dynamodb/index.js');
      const store = new DynamoDBStore({ tableName: table, client: await awsLite(), onWarning: () => {} });
      await store.ensureTable();
      return store;
    }
    case 'redis': {
      const { RedisStore } = await import('../src/stores/redis/index.js');
      return new RedisStore({ url: process.env.REL_REDIS_URL ?? '', prefix });
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

async function baton(app: express.Express): Promise<void> {
  const { session } = await import('../src/adapters/express/index.js');
  const store = await batonStore();
  const middleware = session({ store, secret: BENCH_SECRET, lifetime });
  closers.push(
    () => middleware.manager.close(),
    () => store.close(),
  );
  app.use(middleware as unknown as RequestHandler);
  seedReadWriteRoutes(app, 1024);
  if (gcEveryS > 0 && store.gc) {
    const gc = store.gc.bind(store);
    // Randomised start, so two instances do not begin their gc in step.
    let running = false;
    const timer = setInterval(
      () => {
        if (running) return;
        running = true;
        gc()
          .then(({ deleted }) => {
            gcTotals.runs++;
            gcTotals.deleted += deleted;
          })
          .catch((err: Error) => {
            gcTotals.errors++;
            gcTotals.lastError = err.message;
          })
          .finally(() => {
            running = false;
          });
      },
      gcEveryS * 1000 * (0.75 + Math.random() / 2),
    );
    timer.unref();
    closers.unshift(async () => clearInterval(timer));
  }
  process.on('message', async (m: { type: string }) => {
    if (m.type !== 'gc' || !store.gc) return;
    const started = Date.now();
    const out = await store.gc();
    process.send?.({ type: 'gc', ...out, startedAt: started });
  });
}

function cookieId(req: Request): string {
  const header = req.headers.cookie ?? '';
  const at = header.indexOf('sid=');
  if (at < 0) return '';
  const end = header.indexOf(';', at);
  return header.slice(at + 4, end < 0 ? undefined : end);
}

interface FloorOps {
  put(id: string, value: string): Promise<void>;
  get(id: string): Promise<string | null>;
}

async function floorOps(): Promise<FloorOps> {
  const floorTable = `${table}_floor`;
  switch (engine) {
    case 'dynamodb': {
      const aws = await awsLite();
      closers.push(async () => {});
      const call = (op: string, body: object) =>
        aws({
          service: 'dynamodb',
          headers: {
            'X-Amz-Target': `DynamoDB_20120810.${op}`,
            'content-type': 'application/x-amz-json-1.0',
          },
          awsjson: false,
          payload: body,
        });
      await call('CreateTable', {
        TableName: floorTable,
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }).catch(() => {});
      return {
        put: async (id, value) => {
          await call('PutItem', { TableName: floorTable, Item: { id: { S: id }, d: { S: value } } });
        },
        get: async (id) => {
          const out = await call('GetItem', {
            TableName: floorTable,
            Key: { id: { S: id } },
            ConsistentRead: true,
          });
          return (out.payload?.Item?.d?.S as string | undefined) ?? null;
        },
      };
    }
    case 'redis': {
      const { createClient } = await import('redis');
      const client = createClient({ url: process.env.REL_REDIS_URL ?? '' });
      client.on('error', () => {});
      await client.connect();
      closers.push(() => client.quit());
      return {
        put: async (id, value) => {
          await client.set(`${prefix}floor:${id}`, value, { EX: 86_400 });
        },
        get: async (id) => (await client.get(`${prefix}floor:${id}`)) as string | null,
      };
    }
    case 'postgres': {
      const pg = (await import('pg')).default;
      const pool = new pg.Pool({ connectionString: process.env.REL_PG_URL ?? '', max: 10 });
      closers.push(() => pool.end());
      await pool.query(`CREATE TABLE IF NOT EXISTS ${floorTable} (key text PRIMARY KEY, data text NOT NULL)`);
      return {
        put: async (id, value) => {
          await pool.query(`INSERT INTO ${floorTable} (key, data) VALUES ($1, $2)`, [id, value]);
        },
        get: async (id) => {
          const out = await pool.query(`SELECT data FROM ${floorTable} WHERE key = $1`, [id]);
          return (out.rows[0]?.data as string | undefined) ?? null;
        },
      };
    }
    case 'mysql': {
      const mysql = await import('mysql2/promise');
      const pool = mysql.createPool({ uri: process.env.REL_MYSQL_URL ?? '', connectionLimit: 10 });
      closers.push(() => pool.end());
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${floorTable} (\`key\` varchar(64) PRIMARY KEY, data mediumtext NOT NULL)`,
      );
      return {
        put: async (id, value) => {
          await pool.query(`INSERT INTO ${floorTable} (\`key\`, data) VALUES (?, ?)`, [id, value]);
        },
        get: async (id) => {
          const [rows] = await pool.query(`SELECT data FROM ${floorTable} WHERE \`key\` = ?`, [id]);
          return ((rows as Array<{ data: string }>)[0]?.data as string | undefined) ?? null;
        },
      };
    }
  }
  throw new Error(`unknown engine ${engine}`);
}

async function floor(app: express.Express): Promise<void> {
  const ops = await floorOps();
  app.post('/seed', async (req, res) => {
    const id = randomBytes(16).toString('hex');
    await ops.put(
      id,
      JSON.stringify({ user: 'bench-user', n: 0, payload: payload(Number(req.query.bytes ?? 1024)) }),
    );
    res.setHeader('set-cookie', `sid=${id}; Path=/; HttpOnly; SameSite=Lax`);
    res.json({ ok: true });
  });
  app.get('/read', async (req, res) => {
    const text = await ops.get(cookieId(req));
    const data = text ? (JSON.parse(text) as Session) : null;
    res.json({ user: data?.user ?? null, n: data?.n ?? null });
  });
}

async function main(): Promise<void> {
  const app = express();
  app.use((_req, res, next) => {
    requests++;
    res.once('finish', () => {
      if (res.statusCode >= 400) failures++;
    });
    next();
  });
  if (mode === 'floor') await floor(app);
  else await baton(app);
  app.use((err: Error & { status?: number; code?: string }, _req: Request, res: Response, _next: unknown) => {
    const code = err.code ?? err.name;
    errorCodes[code] = (errorCodes[code] ?? 0) + 1;
    lastError = err.message;
    res.status(err.status ?? 500).json({ error: err.message });
  });
  const server = app.listen(0, '127.0.0.1', () => {
    process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
  });
  server.keepAliveTimeout = 60_000;
  const stop = async () => {
    server.closeAllConnections();
    server.close();
    for (const close of closers) await close().catch(() => {});
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
}

process.on('message', (m: { type: string }) => {
  if (m.type !== 'stats') return;
  const mem = process.memoryUsage();
  process.send?.({
    type: 'stats',
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    requests,
    failures,
    errorCodes,
    lastError,
    gc: { ...gcTotals },
  });
});

main().catch((err: unknown) => {
  console.error('[reliability app] failed to start:', err);
  process.exit(1);
});
