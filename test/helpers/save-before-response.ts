/**
 * CONC-11, save before response: a visitor with an anonymous session logs in on instance A, which
 * answers with a redirect; the moment the redirect's headers arrive, the browser follows it on
 * instance B. Every follow-up must see the logged-in session, which holds only if each adapter
 * flushes its headers after the commit has resolved.
 *
 * Each adapter's test file passes a starter for an app with three routes:
 *
 *   POST /cart?item=x    → session.cart = x                          (the anonymous visit)
 *   POST /login?user=u   → await session.regenerate(); session.userId = u; 302 to /state
 *   GET  /state          → { data }                                  (the session's data)
 *
 * Two instances run over one engine, each with a store client of its own, as two processes would.
 * Pairs per adapter under BATON_FULL_COUNTS=1: Redis 1,000, PostgreSQL 100, DynamoDB (dynalite)
 * 100; otherwise 50, 20 and 10.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import pg from 'pg';
import { createClient } from 'redis';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import type { Store } from '../../src/stores/store.js';
import { endpoint, postgresUrl, randomTableName } from '../stores/sql-quirks.js';
import { ENGINE, sdkClient, startEngine, tableName, warnings } from './dynamodb.js';
import { needService } from './services.js';

export const SECRET = 'save-before-response-secret-0123456789abcdef';
const FULL = process.env.BATON_FULL_COUNTS === '1';
/** Visitors logging in at once; each one's steps run in order. */
const LANES = 4;

export interface LoginApp {
  url: string;
  close(): Promise<void>;
}

/** Starts one instance of the adapter's login app on 127.0.0.1 over `store`. */
export type StartLoginApp = (store: Store, name: string) => Promise<LoginApp>;

/** A real engine shared by the two instances: `open()` gives one store client per instance. */
interface Engine {
  name: string;
  runs: number;
  skip: () => Promise<string | false>;
  setUp: () => Promise<void>;
  open: () => Promise<Store>;
  tearDown: () => Promise<void>;
}

function redisEngine(): Engine {
  const url = 'redis://127.0.0.1:6379';
  const prefix = `baton-sbr-${randomBytes(5).toString('hex')}:`;
  return {
    name: 'Redis',
    runs: FULL ? 1000 : 50,
    skip: () => needService('Redis', 6379),
    setUp: async () => {},
    open: async () => new RedisStore({ url, prefix }),
    tearDown: async () => {
      const admin = createClient({ url });
      await admin.connect();
      for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
        if (keys.length > 0) await admin.del(keys);
      }
      await admin.close();
    },
  };
}

function postgresEngine(): Engine {
  const table = randomTableName('baton_sbr');
  const { host, port } = endpoint(postgresUrl, 5432);
  return {
    name: 'PostgreSQL',
    runs: FULL ? 100 : 20,
    skip: () => needService('PostgreSQL', port, host),
    setUp: async () => {
      const store = new PostgresStore({ connectionString: postgresUrl, tableName: table });
      await store.ensureTable();
      await store.close();
    },
    open: async () => new PostgresStore({ connectionString: postgresUrl, tableName: table }),
    tearDown: async () => {
      const admin = new pg.Pool({ connectionString: postgresUrl, max: 1 });
      await admin.query(`DROP TABLE IF EXISTS "${table}"`);
      await admin.end();
    },
  };
}

function dynamoEngine(): Engine {
  const table = tableName('baton-sbr');
  let engine: LocalDynamo | undefined;
  const clients: DynamoDBClient[] = [];
  const open = async () => {
    const client = sdkClient(engine!.endpoint);
    clients.push(client);
    return new DynamoDBStore({ tableName: table, client, ...warnings() });
  };
  return {
    name: `DynamoDB (${ENGINE.name})`,
    runs: FULL ? 100 : 10,
    skip: async () => false,
    setUp: async () => {
      engine = await startEngine();
      await (await open()).ensureTable();
    },
    open,
    tearDown: async () => {
      for (const c of clients) c.destroy();
      await engine?.close();
    },
  };
}

export interface PairsResult {
  runs: number;
  seen: number;
  /** Follow-ups that found no session, or a session without the login. */
  missed: string[];
  ms: number;
}

/**
 * `runs` visitors, `LANES` at a time: an anonymous visit on B, the login on A, and the redirect
 * followed on B as soon as the login's headers are in (the body is read afterwards).
 */
export async function loginPairs(a: string, b: string, runs: number): Promise<PairsResult> {
  const missed: string[] = [];
  let next = 0;
  let seen = 0;
  const started = Date.now();
  const lane = async () => {
    for (let i = next++; i < runs; i = next++) {
      const item = `item${i}`;
      const user = `u${i}-${randomBytes(3).toString('hex')}`;
      const visit = await fetch(`${b}/cart?item=${item}`, { method: 'POST' });
      await visit.arrayBuffer();
      const anonymous = pairOf(visit.headers.getSetCookie());
      assert.ok(anonymous, 'the anonymous visit set a cookie');
      const login = await fetch(`${a}/login?user=${user}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: anonymous },
      });
      const cookie = pairOf(login.headers.getSetCookie());
      const location = login.headers.get('location');
      assert.equal(login.status, 302, 'the login redirects');
      assert.ok(cookie && cookie !== anonymous, 'the login sets a new cookie');
      // Follow the redirect on the other instance at once; the login's body is read after.
      const target = new URL(location ?? '/state', a); // a Web Response.redirect is absolute
      const followUp = await fetch(`${b}${target.pathname}${target.search}`, { headers: { cookie } });
      const data = ((await followUp.json()) as { data?: Record<string, unknown> }).data ?? {};
      await login.arrayBuffer();
      if (data.userId === user && data.cart === item) seen++;
      else missed.push(`${user}: ${JSON.stringify(data)}`);
    }
  };
  // Every lane finishes before a failure is reported, so none is left talking to closed servers.
  const lanes = await Promise.allSettled(Array.from({ length: LANES }, lane));
  for (const l of lanes) if (l.status === 'rejected') throw l.reason;
  return { runs, seen, missed, ms: Date.now() - started };
}

/** The `name=value` pair the last Set-Cookie leaves in a browser (none when cleared). */
function pairOf(setCookie: string[]): string | undefined {
  let pair: string | undefined;
  for (const c of setCookie) {
    const value = c.split(';')[0] ?? '';
    pair = /max-age=0/i.test(c) || value.endsWith('=') ? undefined : value;
  }
  return pair;
}

export interface SuiteOptions {
  /** Why this app is known to miss: the pairs run as `todo` (reported, not failing the run). */
  knownIssue?: string;
}

/** CONC-11 for one adapter on Redis, PostgreSQL and DynamoDB. */
export async function saveBeforeResponseSuite(
  adapter: string,
  start: StartLoginApp,
  options: SuiteOptions = {},
): Promise<void> {
  for (const engine of [redisEngine(), postgresEngine(), dynamoEngine()]) {
    const skip = await engine.skip();
    describe(`CONC-11 ${adapter} on ${engine.name}: login on A, redirect followed on B at once`, () => {
      const apps: LoginApp[] = [];
      const stores: Store[] = [];
      before(async () => {
        if (skip) return;
        await engine.setUp();
        for (const name of ['A', 'B']) {
          const store = await engine.open();
          stores.push(store);
          apps.push(await start(store, name));
        }
      });
      after(async () => {
        if (skip) return;
        await Promise.all(apps.map((app) => app.close()));
        await Promise.all(stores.map((store) => store.close()));
        await engine.tearDown();
      });

      it(`${engine.runs} login → follow-up pairs: every follow-up sees the logged-in session`, {
        skip,
        todo: options.knownIssue,
      }, async (t) => {
        const [a, b] = apps as [LoginApp, LoginApp];
        const result = await loginPairs(a.url, b.url, engine.runs);
        t.diagnostic(
          `${adapter} / ${engine.name}: ${result.seen} of ${result.runs} follow-ups saw the login, ` +
            `${result.missed.length} missed, ${result.ms} ms`,
        );
        assert.deepEqual(result.missed.slice(0, 5), []);
        assert.equal(result.seen, result.runs);
      });
    });
  }
}
