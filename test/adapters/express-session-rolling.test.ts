/**
 * ExpressSessionStore keeps active users logged in (issue 23), through express-session over real
 * HTTP with a cookie jar that drops the cookie when its Expires passes, on memory, Redis and
 * DynamoDB: a rolling session stays alive through 3× its maxAge of unchanged requests, a touch that
 * writes moves the stored cookie, a record without a cookie fails the request with a typed error,
 * and a store callback that throws surfaces as an uncaught exception, as with MemoryStore.
 *
 * Type-checked by tsconfig.express-session.json (see express-session.test.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';
import { ExpressSessionStore } from '../../src/adapters/express-session/index.js';
import { hashId } from '../../src/core/ids.js';
import { DynamoDBStore, type LocalDynamo } from '../../src/stores/dynamodb/index.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import type { Store } from '../../src/stores/store.js';
import { startFixture } from '../helpers/child.js';
import { ExpiringJar } from '../helpers/cookie-jar.js';
import { countCalls } from '../helpers/counting-store.js';
import { CREDENTIALS, REGION, startEngine, tableName } from '../helpers/dynamodb.js';
import { close, listen } from '../helpers/http.js';
import { needService } from '../helpers/services.js';

declare module 'express-session' {
  interface SessionData {
    [key: string]: unknown;
  }
}

const SECRET = 'express-session-rolling-secret-0123456789abcdef';
// The probe used 1.5 s; a cookie's Expires has 1-second resolution, so that left as little
// as 0.5 s of cookie after each response: too tight on a loaded machine. 3 s leaves at least 2 s.
const MAX_AGE_MS = 3_000;
const EVERY_MS = 300;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** express-session as docs/adapters.md recommends, rolling, over `store`; handlers report what they see. */
async function start(store: ExpressSessionStore, cookie: session.CookieOptions = { maxAge: MAX_AGE_MS }) {
  const app = express();
  app.use(session({ store, secret: SECRET, resave: false, saveUninitialized: false, rolling: true, cookie }));
  app.post('/login', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = 'ann';
      res.json({ ok: true });
    });
  });
  app.get('/state', (req, res) => {
    res.json({ sid: req.sessionID, userId: req.session.userId ?? null, maxAge: req.session.cookie.maxAge });
  });
  app.use(
    (
      err: { status?: number; code?: string },
      _req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      res.status(err.status ?? 500).json({ code: err.code });
    },
  );
  const server = createServer(app);
  return { url: await listen(server), close: () => close(server) };
}

interface Backend {
  name: string;
  skip: string | false;
  setUp(): Promise<void>;
  store(): Store;
  /** Environment for the throwing-callback fixture. */
  fixtureEnv(): Record<string, string>;
  tearDown(): Promise<void>;
}

const redisSkip = await needService('Redis', 6379);
const redisPrefix = `baton-test-${randomBytes(5).toString('hex')}:`;
let redisClient: ReturnType<typeof createClient> | undefined;
let dynamo: LocalDynamo | undefined;
const table = tableName('es-rolling');
const memory = new MemoryStore();

const backends: Backend[] = [
  {
    name: 'memory',
    skip: false,
    setUp: async () => {},
    store: () => memory,
    fixtureEnv: () => ({ BACKEND: 'memory' }),
    tearDown: async () => {},
  },
  {
    name: 'Redis',
    skip: redisSkip,
    setUp: async () => {
      redisClient = createClient({ url: 'redis://127.0.0.1:6379' });
      await redisClient.connect();
    },
    store: () => new RedisStore({ client: redisClient as never, prefix: redisPrefix }),
    fixtureEnv: () => ({ BACKEND: 'redis', REDIS_PREFIX: redisPrefix }),
    tearDown: async () => {
      if (!redisClient) return;
      for await (const keys of redisClient.scanIterator({ MATCH: `${redisPrefix}*` }))
        if (keys.length) await redisClient.del(keys);
      await redisClient.close();
    },
  },
  {
    name: 'DynamoDB',
    skip: false,
    setUp: async () => {
      dynamo = await startEngine();
      const store = dynamoStore();
      await store.ensureTable();
      await store.close();
    },
    store: () => dynamoStore(),
    fixtureEnv: () => ({ BACKEND: 'dynamodb', ENDPOINT: (dynamo as LocalDynamo).endpoint, TABLE: table }),
    tearDown: async () => {
      await dynamo?.close();
    },
  },
];

function dynamoStore(): DynamoDBStore {
  return new DynamoDBStore({
    tableName: table,
    clientConfig: { endpoint: (dynamo as LocalDynamo).endpoint, region: REGION, credentials: CREDENTIALS },
  });
}

/** Runs the throwing-callback fixture and returns its outcome lines. */
async function outcomes(env: Record<string, string>): Promise<string[]> {
  const child = startFixture('test/adapters/fixtures/throwing-callback.ts', env);
  try {
    const out = await child.waitFor(/^([\s\S]*?)^done$/m, 60_000);
    return (out[1] ?? '').split('\n').filter(Boolean);
  } finally {
    await child.kill();
  }
}

/** express-session's MemoryStore's outcomes, the reference (run once). */
let reference: Promise<string[]> | undefined;

for (const backend of backends) {
  describe(`ExpressSessionStore over ${backend.name}: active users stay logged in`, {
    skip: backend.skip,
  }, () => {
    let store: Store;
    let app: Awaited<ReturnType<typeof start>>;
    let sessions: ExpressSessionStore;
    before(async () => {
      await backend.setUp();
      store = backend.store();
      sessions = new ExpressSessionStore(store);
      app = await start(sessions);
    });
    after(async () => {
      await app?.close();
      if (store !== memory) await store?.close();
      await backend.tearDown();
    });

    it('rolling, maxAge 3 s: logged in through 3× maxAge of unchanged requests every 300 ms; handlers see a live cookie', async () => {
      const jar = new ExpiringJar();
      await jar.request(app.url, '/login', { method: 'POST' });
      const seen: { userId: string | null; maxAge: number }[] = [];
      const start = Date.now();
      // 30 requests 300 ms apart: at least 9 s, 3× maxAge, however slow the engine.
      for (let i = 0; i < 30; i++) {
        await sleep(EVERY_MS);
        seen.push((await jar.request(app.url, '/state')).body);
      }
      assert.ok(Date.now() - start >= 3 * MAX_AGE_MS);
      assert.deepEqual(
        seen.map((s) => s.userId),
        seen.map(() => 'ann'),
        'logged in on every request',
      );
      for (const s of seen) assert.ok(s.maxAge > 0, `the loaded cookie is live (maxAge ${s.maxAge} ms)`);
    });

    it('a touch that writes moves the stored cookie: get() and all() see the new expiry', async () => {
      const jar = new ExpiringJar();
      await jar.request(app.url, '/login', { method: 'POST' });
      const { sid } = (await jar.request(app.url, '/state')).body;
      const before = new Date((await sessions.get(sid)).cookie.expires).getTime();
      await sleep(2 * EVERY_MS);
      const t = Date.now();
      await jar.request(app.url, '/state');
      const got = await sessions.get(sid);
      const after = new Date(got.cookie.expires).getTime();
      assert.ok(after >= before + 2 * EVERY_MS, `stored cookie moved by ${after - before} ms`);
      assert.ok(after >= t + MAX_AGE_MS && after <= Date.now() + MAX_AGE_MS, 'to this request + maxAge');
      // express-session's touch() re-derives originalMaxAge from expires - Date.now(): a ms may pass.
      assert.ok(
        Math.abs(got.cookie.originalMaxAge - MAX_AGE_MS) <= 5,
        `originalMaxAge ${got.cookie.originalMaxAge}`,
      );
      const listed = (await sessions.all()).find(
        (s) => s.userId === 'ann' && s.cookie.expires === got.cookie.expires,
      );
      assert.ok(listed, 'all() lists it with the same expiry');
    });

    it('a skipped touch leaves the record outliving the rolled cookie (grace of one throttle)', async () => {
      // maxAge 60 s: throttle 6 s. The cookie rolls 2 s later: no write, yet the record must
      // outlive it. Margins of seconds, as an engine's clock is read to the second.
      const sid = `grace-${randomBytes(6).toString('hex')}`;
      const cookieFor = (at: number) => ({
        originalMaxAge: 60_000,
        expires: new Date(at + 60_000).toISOString(),
      });
      await sessions.set(sid, { cookie: cookieFor(Date.now()), userId: 'ann' });
      const loaded = await sessions.get(sid);
      await sleep(2_000);
      // What express-session does on an unchanged rolling request: the cookie moves, then touch().
      const rolled = Date.now();
      loaded.cookie = cookieFor(rolled);
      const calls = countCalls(store);
      await sessions.touch(sid, loaded);
      assert.deepEqual(calls.counts, {}, 'moved by 2 s, under the 6 s throttle: no store call');
      const record = await store.get(hashId(sid));
      assert.ok(record, 'still stored');
      // Both sides on the store's clock.
      const skew = (store.clock?.now() ?? Date.now()) - Date.now();
      const cookieEnds = rolled + 60_000 + skew;
      assert.ok(
        record.expiresAt >= cookieEnds,
        `record expires ${record.expiresAt - cookieEnds} ms after the rolled cookie`,
      );
    });

    it('a record without a cookie: the request fails with 500 BATON_SESSION_DATA and the record is left as it was', async () => {
      const jar = new ExpiringJar();
      await jar.request(app.url, '/login', { method: 'POST' });
      const { sid } = (await jar.request(app.url, '/state')).body;
      const key = hashId(sid);
      const now = Date.now();
      await store.destroy(key);
      await store.create(key, {
        data: { foreign: '"yes"' },
        createdAt: now,
        expiresAt: now + 60_000,
        absoluteExpiresAt: now + 60_000,
        version: 1,
      });
      const reply = await jar.request(app.url, '/state');
      assert.equal(reply.status, 500);
      assert.equal(reply.body.code, 'BATON_SESSION_DATA');
      assert.deepEqual(reply.setCookie, [], 'no new session handed out');
      assert.deepEqual((await store.get(key))?.data, { foreign: '"yes"' });
    });

    it('a store callback that throws surfaces as an uncaught exception, as with MemoryStore', async () => {
      reference ??= outcomes({ BACKEND: 'express-memory' });
      const expected = await reference;
      assert.deepEqual(expected, [
        'uncaught get',
        'uncaught set',
        'uncaught touch',
        'uncaught length',
        'uncaught destroy',
      ]);
      assert.deepEqual(await outcomes(backend.fixtureEnv()), expected);
    });
  });
}

describe('ExpressSessionStore: no write on an unchanged read for a 1-day session', () => {
  it('20 unchanged requests on a session with maxAge 1 day cost 20 reads and no write', async () => {
    const store = new MemoryStore();
    const app = await start(new ExpressSessionStore(store), { maxAge: 86_400_000 });
    try {
      const jar = new ExpiringJar();
      await jar.request(app.url, '/login', { method: 'POST' });
      const calls = countCalls(store);
      calls.reset();
      for (let i = 0; i < 20; i++) assert.equal((await jar.request(app.url, '/state')).body.userId, 'ann');
      assert.deepEqual(calls.counts, { get: 20 });
    } finally {
      await app.close();
    }
  });
});
