/**
 * Rows of `npm run bench:reliability` for lock mode under load and large writes:
 *
 *   lock-calls     20 requests behind a 2 s lock holder on two instances (Express, in this process)
 *                  over each store: lock calls per waiting request, and how long after the holder's
 *                  release the last waiter finished; 50 concurrent requests on one session with no
 *                  holder. On DynamoDB also the capacity units of the lock calls, with a 264 KB item.
 *   mariadb-patch  one patch changing 1k / 4k / 10k keys of a session that already holds them,
 *                  MariaDB against PostgreSQL.
 *
 * The backpressure row is in bench/backpressure.ts.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import express from 'express';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { session } from '../src/adapters/express/index.js';
import { SessionManager } from '../src/core/manager.js';
import { DynamoDBStore } from '../src/stores/dynamodb/index.js';
import { FileStore } from '../src/stores/file/index.js';
import { MemcachedStore } from '../src/stores/memcached/index.js';
import { MemoryStore } from '../src/stores/memory/index.js';
import { MySQLStore } from '../src/stores/mysql/index.js';
import { PostgresStore } from '../src/stores/postgres/index.js';
import { RedisStore } from '../src/stores/redis/index.js';
import type { Store } from '../src/stores/store.js';
import { round } from './measure.js';

const SECRET = 'lock-load-bench-secret-long-enough-0123456789';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tag = () => randomBytes(4).toString('hex');

/** Drops a bench table (the SQL stores have no drop of their own). */
async function dropSql(engines: LockLoadEngines, kind: 'postgres' | 'mysql', table: string): Promise<void> {
  if (kind === 'postgres') {
    const client = new pg.Client({ connectionString: engines.postgresUrl });
    await client.connect();
    await client.query(`DROP TABLE IF EXISTS "${table}"`).finally(() => client.end());
  } else {
    const connection = await mysql.createConnection({ uri: engines.mysqlUrl });
    await connection.query(`DROP TABLE IF EXISTS \`${table}\``).finally(() => connection.end());
  }
}

export interface LockLoadEngines {
  dynamoEndpoint: string;
  redisUrl?: string;
  postgresUrl: string;
  mysqlUrl: string;
  memcached?: string;
}

/** Called by the holder's handler, which runs only once it has the lock. */
let onHold: (() => void) | undefined;

/** Lock calls and capacity units made on behalf of the request being served. */
const calls = new AsyncLocalStorage<{ lock: number; units: number }>();

function counted(store: Store): Store {
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (prop !== 'lock') return value.bind(target);
      return (...args: unknown[]) => {
        const counter = calls.getStore();
        if (counter) counter.lock++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

async function instances(store: Store, managers: SessionManager[]) {
  const servers: Server[] = [];
  const urls: string[] = [];
  for (let i = 0; i < 2; i++) {
    const manager = new SessionManager({
      store,
      secret: SECRET,
      concurrency: 'lock',
      lockWait: 10,
      lockTtl: 30,
    });
    managers.push(manager);
    const app = express();
    app.use((_req, _res, next) => calls.run({ lock: 0, units: 0 }, next));
    app.use(express.json());
    app.use(session(manager));
    app.post('/hold', async (req, res) => {
      onHold?.();
      req.session.held = Date.now();
      await sleep(req.body.ms);
      res.json({ lockCalls: calls.getStore()?.lock });
    });
    app.post('/set', (req, res) => {
      // Random text: the DynamoDB store compresses large values, and a repeated letter would shrink to nothing.
      if (req.body.blob) req.session.blob = randomBytes(Math.ceil(req.body.blob * 0.75)).toString('base64');
      req.session[req.body.key] = req.body.value;
      res.json({ lockCalls: calls.getStore()?.lock, at: Date.now() });
    });
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }
  return {
    urls: urls as [string, string],
    close: () =>
      Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.closeAllConnections();
              s.close(() => resolve());
            }),
        ),
      ),
  };
}

export interface LockCallsRun {
  store: string;
  waiters: number;
  holderMs: number;
  lockCallsPerWaiter: { max: number; mean: number; total: number };
  /** From the holder's response to the last waiter's response. */
  lastWaiterAfterReleaseMs: number;
  /** DynamoDB: capacity units of every lock call in the run (the holder's included), item ~264 KB. */
  lockCapacityUnits?: number;
  itemBytes?: number;
  /** 50 concurrent requests on one session, no holder: lock calls per request. */
  concurrent50: { max: number; mean: number };
  /**
   * Requests that did not answer 200 (a lock timeout, a store that gave up), waiters and the 50
   * concurrent ones together. 50 requests serialised on a 264 KB DynamoDB item take longer than
   * `lockWait` on dynalite, so some of those time out there; only a failed waiter fails the row.
   */
  failedRequests: number;
  pass: { atMost10CallsPerWaiter: boolean; noFailedRequests: boolean };
}

async function lockCallsRun(name: string, store: Store, itemBytes = 0): Promise<LockCallsRun> {
  const raw = store;
  let units = 0;
  raw.onOperation((info) => {
    if (info.op === 'lock') units += info.capacityUnits ?? 0;
  });
  const managers: SessionManager[] = [];
  const c = await instances(counted(raw), managers);
  try {
    const first = await fetch(`${c.urls[0]}/set`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'start', value: 1, blob: itemBytes || undefined }),
    });
    const cookie = (first.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '';
    const post = (url: string, path: string, body: unknown) =>
      fetch(url + path, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    units = 0;
    const holding = new Promise<void>((resolve) => {
      onHold = resolve;
    });
    const holder = post(c.urls[0], '/hold', { ms: 2000 });
    // The waiters start once the holder's handler runs, that is, once it has the lock.
    await holding;
    // Each waiter's reply (or failure) is taken as it comes, so none is left unhandled meanwhile.
    const answer = async (reply: Promise<Response>) => {
      try {
        const r = await reply;
        const body = (await r.json()) as { lockCalls?: number; at?: number };
        return { status: r.status, lockCalls: body.lockCalls ?? 0, at: body.at ?? Date.now() };
      } catch {
        return { status: 0, lockCalls: 0, at: Date.now() };
      }
    };
    const waiters = Array.from({ length: 20 }, (_, i) =>
      answer(post(c.urls[i % 2] as string, '/set', { key: `k${i}`, value: i })),
    );
    const held = await answer(holder);
    const releasedAt = Date.now();
    const bodies = await Promise.all(waiters);
    const failedWaiters = bodies.filter((b) => b.status !== 200).length + (held.status === 200 ? 0 : 1);
    const lockUnits = units;
    const counts = bodies.map((b) => b.lockCalls);
    const lastAt = Math.max(...bodies.map((b) => b.at));
    const cBodies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        answer(post(c.urls[i % 2] as string, '/set', { key: `c${i}`, value: i })),
      ),
    );
    const cCounts = cBodies.map((b) => b.lockCalls);
    const max = Math.max(...counts);
    const run: LockCallsRun = {
      store: name,
      waiters: 20,
      holderMs: 2000,
      lockCallsPerWaiter: {
        max,
        mean: round(counts.reduce((a, b) => a + b, 0) / counts.length, 2),
        total: counts.reduce((a, b) => a + b, 0),
      },
      lastWaiterAfterReleaseMs: lastAt - releasedAt,
      concurrent50: {
        max: Math.max(...cCounts),
        mean: round(cCounts.reduce((a, b) => a + b, 0) / cCounts.length, 2),
      },
      failedRequests: failedWaiters + cBodies.filter((b) => b.status !== 200).length,
      pass: { atMost10CallsPerWaiter: max <= 10, noFailedRequests: failedWaiters === 0 },
    };
    if (name === 'dynamodb') {
      run.lockCapacityUnits = round(lockUnits, 1);
      run.itemBytes = itemBytes;
    }
    return run;
  } finally {
    await c.close();
    for (const m of managers) await m.close();
  }
}

/** The lock-calls row over every store that is reachable. */
export async function lockCalls(
  engines: LockLoadEngines,
  log: (line: string) => void,
): Promise<LockCallsRun[]> {
  const runs: LockCallsRun[] = [];
  const client = new DynamoDBClient({
    endpoint: engines.dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const pgTable = `bench_lock_${tag()}`;
  const mysqlTable = `bench_lock_${tag()}`;
  const makers: Array<[string, () => Promise<Store>, number?]> = [
    ['memory', async () => new MemoryStore()],
    [
      'dynamodb',
      async () => {
        const s = new DynamoDBStore({ tableName: `bench-lock-${tag()}`, client, onWarning: () => {} });
        await s.ensureTable();
        return s;
      },
      264 * 1024,
    ],
    [
      'postgres',
      async () => {
        const s = new PostgresStore({ connectionString: engines.postgresUrl, tableName: pgTable });
        await s.ensureTable();
        return s;
      },
    ],
    [
      'mysql',
      async () => {
        const s = new MySQLStore({ uri: engines.mysqlUrl, tableName: mysqlTable });
        await s.ensureTable();
        return s;
      },
    ],
    ['file', async () => new FileStore({ dir: join(tmpdir(), `bench-lock-${tag()}`) })],
  ];
  if (engines.redisUrl)
    makers.push([
      'redis',
      async () => new RedisStore({ url: `${engines.redisUrl}/0?prefix=bench-lock-${tag()}:` }),
    ]);
  if (engines.memcached) {
    makers.push([
      'memcached',
      async () => new MemcachedStore({ servers: [engines.memcached!], prefix: `bench-lock-${tag()}:` }),
    ]);
  }
  for (const [name, make, itemBytes] of makers) {
    let store: Store | undefined;
    try {
      store = await make();
      const run = await lockCallsRun(name, store, itemBytes);
      runs.push(run);
      log(
        `  ${name.padEnd(9)} ${run.failedRequests} failed; lock calls per waiter max ${run.lockCallsPerWaiter.max}, mean ${run.lockCallsPerWaiter.mean}; last waiter ${run.lastWaiterAfterReleaseMs} ms after the release; 50 concurrent: mean ${run.concurrent50.mean}, max ${run.concurrent50.max}${run.lockCapacityUnits !== undefined ? `; lock capacity units ${run.lockCapacityUnits} (item ${Math.round((itemBytes ?? 0) / 1024)} KB)` : ''}`,
      );
    } catch (err) {
      log(`  ${name} FAILED: ${(err as Error).message}`);
    } finally {
      await store?.close().catch(() => {});
      if (name === 'postgres') await dropSql(engines, 'postgres', pgTable).catch(() => {});
      if (name === 'mysql') await dropSql(engines, 'mysql', mysqlTable).catch(() => {});
    }
  }
  client.destroy();
  return runs;
}

export interface PatchRun {
  keys: number;
  mariadbMs: number;
  postgresMs: number;
  ratio: number;
}

/** One patch changing `n` keys of a session already holding them, best of 3, on both SQL engines. */
export async function mariadbPatch(
  engines: LockLoadEngines,
  sizes: number[],
  log: (line: string) => void,
): Promise<{ runs: PatchRun[]; pass: { within2xOfPostgresAt10k: boolean } }> {
  const mysqlTable = `bench_patch_${tag()}`;
  const pgTable = `bench_patch_${tag()}`;
  const mysqlStore = new MySQLStore({ uri: engines.mysqlUrl, tableName: mysqlTable });
  const pgStore = new PostgresStore({ connectionString: engines.postgresUrl, tableName: pgTable });
  const runs: PatchRun[] = [];
  try {
    await mysqlStore.ensureTable();
    await pgStore.ensureTable();
    const time = async (store: Store, n: number) => {
      let best = Number.POSITIVE_INFINITY;
      for (let r = 0; r < 3; r++) {
        const key = `bench-${tag()}`;
        const now = Date.now();
        const data: Record<string, string> = {};
        for (let i = 0; i < n; i++) data[`key-${i}`] = JSON.stringify(`value-${i}-${'x'.repeat(20)}`);
        await store.create(key, {
          data,
          createdAt: now,
          expiresAt: now + 600_000,
          absoluteExpiresAt: now + 600_000,
          version: 1,
        });
        const set: Record<string, string> = {};
        for (let i = 0; i < n; i++) set[`key-${i}`] = JSON.stringify(`changed-${i}`);
        const t = performance.now();
        await store.patch(key, { set, unset: [], expiresAt: now + 600_000 });
        best = Math.min(best, performance.now() - t);
        await store.destroy(key);
      }
      return round(best, 1);
    };
    for (const n of sizes) {
      const mariadbMs = await time(mysqlStore, n);
      const postgresMs = await time(pgStore, n);
      const run = { keys: n, mariadbMs, postgresMs, ratio: round(mariadbMs / postgresMs, 2) };
      runs.push(run);
      log(`  ${n} keys: MariaDB ${mariadbMs} ms, PostgreSQL ${postgresMs} ms (×${run.ratio})`);
    }
  } finally {
    await mysqlStore.close();
    await pgStore.close();
    await dropSql(engines, 'mysql', mysqlTable).catch(() => {});
    await dropSql(engines, 'postgres', pgTable).catch(() => {});
  }
  const at10k = runs.find((r) => r.keys === 10_000);
  return { runs, pass: { within2xOfPostgresAt10k: at10k ? at10k.ratio <= 2 : true } };
}
