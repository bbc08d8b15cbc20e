/**
 * One benchmark app, in its own process: an Express app built for one scenario
 * (`BENCH_SCENARIO` on `BENCH_ENGINE`), listening on a free loopback port.
 *
 * Every session scenario serves the same routes: `POST /seed?bytes=N` (creates a session),
 * `GET /read` (reads it, changes nothing), `POST /write` (changes one key), `GET /new` (no
 * session use), `POST /set/:i` and `GET /keys` (the lost-update test), `POST /basket/:i` and `GET /basket`
 * (its same-key scenario). The floors serve `/seed`
 * and `/read` only: one store read per request, no session layer.
 *
 * IPC: `ready` (port) · `begin` (reset the counters) · `end` (requests, CPU, client calls,
 * capacity units, peak RSS since `begin`).
 */

import { randomBytes } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { Agent } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { BENCH_SECRET, type Engine } from './scenarios.js';
import { payload, type Session, seedReadWriteRoutes, sessionOf } from './session-routes.js';
import { makeTracingInert } from './tracing-inert.js';

const require = createRequire(import.meta.url);

/**
 * baton-session as users run it: the compiled package in dist/ (`npm run bench` builds first), not
 * the TypeScript sources through the loader this app itself runs under.
 */
// BENCH_DIST: another build's dist/ directory (absolute), to compare two builds of baton side by side.
const DIST = process.env.BENCH_DIST
  ? pathToFileURL(`${process.env.BENCH_DIST}/`)
  : new URL('../dist/', import.meta.url);
const baton = (path: string): Promise<any> => import(new URL(path, DIST).href);

const name = process.env.BENCH_SCENARIO ?? '';
const engine = (process.env.BENCH_ENGINE ?? '') as Engine;
const endpoint = process.env.BENCH_ENDPOINT ?? '';
const redisUrl = process.env.BENCH_REDIS_URL ?? '';
const table = process.env.BENCH_TABLE ?? 'bench';
const prefix = process.env.BENCH_PREFIX ?? 'bench:';
/** Store calls and capacity units are counted for the tables; the paired comparisons run without. */
const counting = process.env.BENCH_COUNT !== '0';
const SECRET = BENCH_SECRET;
const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' };

// Counters since the last `begin`.
let requests = 0;
let inflight = 0;
let cpuStart = process.cpuUsage();
let clientCalls: Record<string, number> = {};
let readUnits = 0;
let writeUnits = 0;
let unitsMeasured = false;

function countCall(op: string): void {
  clientCalls[op] = (clientCalls[op] ?? 0) + 1;
}

function addUnits(op: 'read' | 'write', units: number | undefined): void {
  if (units === undefined) return;
  unitsMeasured = true;
  if (op === 'read') readUnits += units;
  else writeUnits += units;
}

function sessionRoutes(app: express.Express): void {
  seedReadWriteRoutes(app, 200);
  app.get('/new', (_req, res) => {
    res.json({ ok: true });
  });
  app.post('/set/:i', (req, res) => {
    sessionOf(req)[`k${req.params.i}`] = Number(req.params.i);
    res.json({ ok: true });
  });
  app.get('/keys', (req, res) => {
    res.json({ keys: Object.keys(sessionOf(req)).filter((k) => /^k\d+$/.test(k)).length });
  });
  // Same key (issue 19): the README's quick-start basket, one distinct item per request.
  app.post('/basket/:i', (req, res) => {
    const s = sessionOf(req);
    s.basket = [...((s.basket as unknown[] | undefined) ?? []), `item-${req.params.i}`];
    res.json({ ok: true });
  });
  app.get('/basket', (req, res) => {
    const basket = (sessionOf(req).basket as unknown[] | undefined) ?? [];
    res.json({ keys: new Set(basket.filter((x) => typeof x === 'string' && /^item-\d+$/.test(x))).size });
  });
}

/** express-session configured as the peers' READMEs recommend. */
function expressSession(store: unknown): RequestHandler {
  const session = require('express-session') as (options: Record<string, unknown>) => RequestHandler;
  return session({ store, secret: SECRET, resave: false, saveUninitialized: false });
}

function cookieId(req: Request): string {
  const header = req.headers.cookie ?? '';
  const at = header.indexOf('sid=');
  if (at < 0) return '';
  const end = header.indexOf(';', at);
  return header.slice(at + 4, end < 0 ? undefined : end);
}

function seedCookie(res: Response, id: string): void {
  res.setHeader('set-cookie', `sid=${id}; Path=/; HttpOnly; SameSite=Lax`);
}

async function awsLiteClient(): Promise<any> {
  const awsLite = (await import('@aws-lite/client')).default as unknown as (c: object) => Promise<any>;
  // A DynamoDB-only client, made as docs/dynamodb.md recommends (baton and floor-lite alike):
  // replies parsed as plain JSON, not also tried as a whole-reply unmarshall.
  return awsLite({
    region: REGION,
    endpoint,
    ...CREDENTIALS,
    keepAlive: true,
    plugins: [],
    responseContentType: 'application/json',
  });
}

async function sdkV3Client(): Promise<any> {
  const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
  return new DynamoDBClient({
    region: REGION,
    endpoint,
    credentials: CREDENTIALS,
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) },
  });
}

/** A node-redis client whose calls are counted (client-side round trips, by method or command). */
async function redisClient(): Promise<any> {
  const { createClient } = await import('redis');
  const client = createClient({ url: redisUrl }) as any;
  client.on('error', (err: Error) => console.error('[bench app] redis:', err.message));
  await client.connect();
  if (!counting) return client;
  for (const method of ['get', 'set', 'expire', 'del', 'mGet', 'hGetAll']) {
    const original = client[method].bind(client);
    client[method] = (...args: unknown[]) => {
      countCall(method.toUpperCase());
      return original(...args);
    };
  }
  const send = client.sendCommand.bind(client);
  client.sendCommand = (args: string[], ...rest: unknown[]) => {
    countCall(String(args[0]).toUpperCase());
    return send(args, ...rest);
  };
  return client;
}

async function batonDynamoStore(client: any, transport?: 'sdk'): Promise<any> {
  const { DynamoDBStore } = await baton('stores/dynamodb/index.js');
  const store = new DynamoDBStore({ tableName: table, client, transport, onWarning: () => {} });
  await store.ensureTable();
  return store;
}

async function batonStore(): Promise<any> {
  if (engine === 'redis') {
    const { RedisStore } = await baton('stores/redis/index.js');
    return new RedisStore({ client: await redisClient(), prefix });
  }
  // Client setups: baton-sdk = SDK v3 client, lean transport (the default); baton-sdk-send = SDK v3
  // client with transport: 'sdk'; the rest = aws-lite.
  if (name === 'baton-sdk') return batonDynamoStore(await sdkV3Client());
  if (name === 'baton-sdk-send') return batonDynamoStore(await sdkV3Client(), 'sdk');
  return batonDynamoStore(await awsLiteClient());
}

function listenToCapacity(store: any): void {
  if (!counting) return;
  store.onOperation((info: { op: string; capacityUnits?: number }) => {
    addUnits(info.op === 'get' ? 'read' : 'write', info.capacityUnits);
  });
}

/** A subscriber that does nothing, on each baton-session channel: what any subscriber costs at least. */
function subscribeToTracing(): void {
  const noop = () => {};
  for (const channel of ['load', 'commit', 'store']) {
    diagnostics
      .tracingChannel(`baton-session:${channel}`)
      .subscribe({ start: noop, end: noop, asyncStart: noop, asyncEnd: noop, error: noop });
  }
}

async function build(app: express.Express): Promise<void> {
  switch (name) {
    case 'baton':
    case 'baton-traced':
    case 'baton-untraced':
    case 'baton-sdk':
    case 'baton-sdk-send': {
      if (name === 'baton-traced') subscribeToTracing();
      if (name === 'baton-untraced') makeTracingInert(await baton('core/tracing.js'));
      const { session } = await baton('adapters/express/index.js');
      const store = await batonStore();
      listenToCapacity(store);
      app.use(session({ store, secret: SECRET }) as unknown as RequestHandler);
      sessionRoutes(app);
      return;
    }
    case 'baton-express-session': {
      const { ExpressSessionStore } = (await baton('adapters/express-session/index.js')) as {
        ExpressSessionStore: new (s: unknown) => unknown;
      };
      const store = await batonStore();
      listenToCapacity(store);
      app.use(expressSession(new ExpressSessionStore(store)));
      sessionRoutes(app);
      return;
    }
    case 'connect-dynamodb': {
      const session = require('express-session');
      const ConnectDynamoDB = require('connect-dynamodb')(session);
      const store = new ConnectDynamoDB({ table, client: await sdkV3Client() });
      // Its first calls race to create the table (parallel CreateTable crashes the process):
      // make the table once before serving, as a deployment would.
      await store.initialize();
      app.use(expressSession(store));
      sessionRoutes(app);
      return;
    }
    case 'dynamodb-store': {
      const DynamoDBStore = require('dynamodb-store') as new (
        o: object,
        cb: (err?: Error) => void,
      ) => unknown;
      const store = await new Promise((resolve, reject) => {
        const s = new DynamoDBStore(
          {
            table: { name: table },
            dynamoConfig: {
              region: REGION,
              endpoint,
              ...CREDENTIALS,
              httpOptions: { agent: new Agent({ keepAlive: true, maxSockets: 64 }) },
            },
          },
          (err) => (err ? reject(err) : resolve(s)),
        );
      });
      app.use(expressSession(store));
      sessionRoutes(app);
      return;
    }
    case 'connect-redis': {
      const { RedisStore } = require('connect-redis') as { RedisStore: new (o: object) => unknown };
      app.use(expressSession(new RedisStore({ client: await redisClient(), prefix })));
      sessionRoutes(app);
      return;
    }
    case 'express-session-memory': {
      const { MemoryStore } = require('express-session') as { MemoryStore: new () => any };
      const store = new MemoryStore();
      for (const method of ['get', 'set', 'touch', 'destroy']) {
        const original = store[method].bind(store);
        store[method] = (...args: unknown[]) => {
          countCall(method === 'get' ? 'GET_MEMORY' : method.toUpperCase());
          return original(...args);
        };
      }
      app.use(expressSession(store));
      sessionRoutes(app);
      return;
    }
    case 'floor': {
      if (engine === 'redis') return floorRedis(app);
      return floorSdk(app);
    }
    case 'floor-lite':
      return floorLite(app);
  }
  throw new Error(`unknown scenario ${name} on ${engine}`);
}

const TABLE_DEFINITION = {
  AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
  KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
  BillingMode: 'PAY_PER_REQUEST',
};

function seedItem(id: string, bytes: number) {
  return {
    id: { S: id },
    user: { S: 'bench-user' },
    n: { N: '0' },
    payload: { S: payload(bytes) },
    expires: { N: String(Math.floor(Date.now() / 1000) + 86_400) },
  };
}

async function floorSdk(app: express.Express): Promise<void> {
  const { CreateTableCommand, GetItemCommand, PutItemCommand } = await import('@aws-sdk/client-dynamodb');
  const client = await sdkV3Client();
  await client.send(new CreateTableCommand({ TableName: table, ...TABLE_DEFINITION } as any)).catch(() => {});
  app.post('/seed', async (req, res) => {
    const id = randomBytes(16).toString('hex');
    const Item = seedItem(id, Number(req.query.bytes ?? 200));
    await client.send(new PutItemCommand({ TableName: table, Item }));
    seedCookie(res, id);
    res.json({ ok: true });
  });
  app.get('/read', async (req, res) => {
    const out = await client.send(
      new GetItemCommand({
        TableName: table,
        Key: { id: { S: cookieId(req) } },
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    addUnits('read', out.ConsumedCapacity?.CapacityUnits);
    res.json({ user: out.Item?.user?.S ?? null, n: out.Item?.n?.N ?? null });
  });
}

async function floorLite(app: express.Express): Promise<void> {
  const aws = await awsLiteClient();
  const call = (op: string, payload: object) =>
    aws({
      service: 'dynamodb',
      headers: { 'X-Amz-Target': `DynamoDB_20120810.${op}`, 'content-type': 'application/x-amz-json-1.0' },
      awsjson: false,
      payload,
    });
  await call('CreateTable', { TableName: table, ...TABLE_DEFINITION }).catch(() => {});
  app.post('/seed', async (req, res) => {
    const id = randomBytes(16).toString('hex');
    await call('PutItem', { TableName: table, Item: seedItem(id, Number(req.query.bytes ?? 200)) });
    seedCookie(res, id);
    res.json({ ok: true });
  });
  app.get('/read', async (req, res) => {
    const out = await call('GetItem', {
      TableName: table,
      Key: { id: { S: cookieId(req) } },
      ConsistentRead: true,
      ReturnConsumedCapacity: 'TOTAL',
    });
    const item = out.payload?.Item;
    addUnits('read', out.payload?.ConsumedCapacity?.CapacityUnits);
    res.json({ user: item?.user?.S ?? null, n: item?.n?.N ?? null });
  });
}

async function floorRedis(app: express.Express): Promise<void> {
  const client = await redisClient();
  app.post('/seed', async (req, res) => {
    const id = randomBytes(16).toString('hex');
    const value = JSON.stringify({
      user: 'bench-user',
      n: 0,
      payload: payload(Number(req.query.bytes ?? 200)),
    });
    await client.set(`${prefix}${id}`, value, { EX: 86_400 });
    seedCookie(res, id);
    res.json({ ok: true });
  });
  app.get('/read', async (req, res) => {
    const text = (await client.get(`${prefix}${cookieId(req)}`)) as string | null;
    const data = text ? (JSON.parse(text) as Session) : null;
    res.json({ user: data?.user ?? null, n: data?.n ?? null });
  });
}

async function main(): Promise<void> {
  const app = express();
  app.use((_req, res, next) => {
    requests++;
    inflight++;
    res.once('close', () => inflight--);
    next();
  });
  await build(app);
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: unknown) => {
    console.error('[bench app]', name, err.message);
    res.status(err.status ?? 500).json({ error: err.message });
  });
  const server = app.listen(0, '127.0.0.1', () => {
    process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
  });
  server.keepAliveTimeout = 60_000;
}

/** Requests the load generator gave up on still finish here: wait for them, so counts cover whole requests. */
async function idle(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

process.on('message', async (message: { type: string }) => {
  await idle();
  if (message.type === 'begin') {
    requests = 0;
    clientCalls = {};
    readUnits = 0;
    writeUnits = 0;
    unitsMeasured = false;
    cpuStart = process.cpuUsage();
    process.send?.({ type: 'begin', monoUs: Number(process.hrtime.bigint() / 1000n) });
  } else if (message.type === 'end') {
    const cpu = process.cpuUsage(cpuStart);
    process.send?.({
      type: 'end',
      requests,
      cpuUs: cpu.user + cpu.system,
      clientCalls,
      readUnits,
      writeUnits,
      unitsMeasured,
      maxRssKb: process.resourceUsage().maxRSS,
      monoUs: Number(process.hrtime.bigint() / 1000n),
    });
  }
});
// A clean exit on SIGTERM, so `--cpu-prof` writes its profile.
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));

main().catch((err: unknown) => {
  console.error('[bench app] failed to start:', err);
  process.exit(1);
});
