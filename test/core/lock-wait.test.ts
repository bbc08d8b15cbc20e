/**
 * Lock waiting that scales (`concurrency: 'lock'`): requests queued behind a held lock make few
 * store calls each, through real HTTP on two Express instances sharing one store (memory, Redis,
 * DynamoDB on dynalite).
 */
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { session } from '../../src/adapters/express/index.js';
import { LOCK_RETRY_MAX_MS, LocalQueue, nextPause } from '../../src/core/lock-wait.js';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import type { Store } from '../../src/stores/store.js';
import { sdkClient, startEngine, tableName, warnings } from '../helpers/dynamodb.js';
import { close, Jar, listen } from '../helpers/http.js';
import { needService } from '../helpers/services.js';

const SECRET = 'lock-wait-secret-that-is-long-enough-0123456789';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Lock calls made on behalf of the request being served. */
const calls = new AsyncLocalStorage<{ lock: number }>();

/** The store, with every `lock` call counted against the request that made it. */
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

async function instances(store: Store) {
  const servers: Server[] = [];
  const urls: string[] = [];
  for (let i = 0; i < 2; i++) {
    const app = express();
    app.use((_req, _res, next) => calls.run({ lock: 0 }, next));
    app.use(express.json());
    app.use(session({ store, secret: SECRET, concurrency: 'lock', lockWait: 10, lockTtl: 30 }));
    app.post('/hold', async (req, res) => {
      req.session.held = true;
      await sleep(req.body.ms);
      res.json({ lockCalls: calls.getStore()?.lock });
    });
    app.post('/set', (req, res) => {
      req.session[req.body.key] = req.body.value;
      res.json({ lockCalls: calls.getStore()?.lock });
    });
    const server = createServer(app);
    servers.push(server);
    urls.push(await listen(server));
  }
  return { urls: urls as [string, string], close: () => Promise.all(servers.map(close)) };
}

/** A 2 s holder on instance A, 20 waiters spread over A and B; the lock calls of each waiter. */
async function waitersBehindHolder(store: Store): Promise<{ statuses: number[]; lockCalls: number[] }> {
  const c = await instances(counted(store));
  try {
    const jar = new Jar();
    await jar.request(c.urls[0], '/set', { json: { key: 'start', value: 1 } });
    const cookie = jar.cookie!;
    const post = (url: string, path: string, body: unknown) =>
      fetch(url + path, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const holder = post(c.urls[0], '/hold', { ms: 2000 });
    // Wait until the holder has the lock: the store refuses a lock attempt (polling, never a fixed sleep).
    for (;;) {
      const probe = await store.lock!(keyOf(cookie), 1000);
      if (!probe) break;
      await probe.release();
      await sleep(5);
    }
    const waiters = await Promise.all(
      Array.from({ length: 20 }, (_, i) => post(c.urls[i % 2] as string, '/set', { key: `k${i}`, value: i })),
    );
    const held = await holder;
    assert.equal(held.status, 200);
    const bodies = await Promise.all(waiters.map((r) => r.json() as Promise<{ lockCalls: number }>));
    const state = await post(c.urls[1], '/set', { key: 'end', value: 1 });
    assert.equal(state.status, 200);
    return { statuses: waiters.map((r) => r.status), lockCalls: bodies.map((b) => b.lockCalls) };
  } finally {
    await c.close();
  }
}

/** The store key of a cookie (hashIds on): worked out the way the manager does. */
let keyOf: (cookie: string) => string;
before(async () => {
  const { SessionManager } = await import('../../src/core/manager.js');
  const { unsign } = await import('../../src/core/ids.js');
  const manager = new SessionManager({ store: new MemoryStore(), secret: SECRET });
  keyOf = (cookie) => {
    const value = decodeURIComponent(cookie.split('=')[1] ?? '');
    return manager.keyFor(unsign(value, [SECRET])!.id);
  };
});

function reportAndCheck(
  t: { diagnostic(message: string): void },
  name: string,
  r: { statuses: number[]; lockCalls: number[] },
) {
  const sorted = [...r.lockCalls].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  t.diagnostic(
    `${name}: 20 waiters behind a 2 s holder — lock calls per waiter: max ${sorted.at(-1)}, mean ${mean.toFixed(1)}`,
  );
  assert.deepEqual(r.statuses, Array(20).fill(200), 'every waiter got the lock');
  assert.ok((sorted.at(-1) ?? 0) <= 10, `at most 10 lock calls per waiter, got ${sorted.join(',')}`);
}

describe('lock waiting: bounded store calls per waiting request', () => {
  it('the backoff schedule: at most 10 attempts in 2 s even when every jitter draw is the smallest', () => {
    for (const draw of [0, 0.5, 1]) {
      let t = 0;
      let attempts = 1;
      for (let refused = 0; t < 2000; refused++) {
        t += nextPause(refused, 10_000 - t, () => draw);
        if (t < 2000) attempts++;
      }
      assert.ok(attempts <= 10, `jitter draw ${draw}: ${attempts} attempts`);
    }
    assert.equal(
      nextPause(50, 10_000, () => 1),
      LOCK_RETRY_MAX_MS,
      'capped',
    );
    assert.equal(
      nextPause(50, 7, () => 1),
      7,
      'never past the deadline',
    );
  });

  it('the local queue: one turn at a time per session, in order; a turn ends by itself after its hold limit', async () => {
    const queue = new LocalQueue();
    const order: number[] = [];
    const first = await queue.enter('k', Date.now() + 1000, 60_000);
    assert.ok(first);
    const second = queue.enter('k', Date.now() + 1000, 60_000).then((t) => {
      order.push(2);
      return t;
    });
    const third = queue.enter('k', Date.now() + 1000, 50).then((t) => {
      order.push(3);
      return t;
    });
    const other = await queue.enter('other', Date.now() + 1000, 60_000);
    assert.ok(other, 'another session is not held up');
    other.done();
    await sleep(10);
    assert.deepEqual(order, [], 'nobody before the first is done');
    first.done();
    (await second)!.done();
    const late = await queue.enter('k', Date.now() + 20, 60_000);
    assert.equal(late, null, 'the third holds the turn; a fourth gives up at its deadline');
    await third;
    // The third never calls done(): its turn ends after its 50 ms hold limit.
    const next = await queue.enter('k', Date.now() + 1000, 60_000);
    assert.ok(next);
    next.done();
    assert.deepEqual(order, [2, 3]);
    assert.equal(queue.size, 0);
  });

  it('memory: 20 waiters behind a 2 s holder make at most 10 lock calls each', async (t) => {
    reportAndCheck(t, 'memory', await waitersBehindHolder(new MemoryStore()));
  });

  describe('Redis', async () => {
    const skip = await needService('Redis', 6379);
    it('20 waiters behind a 2 s holder make at most 10 lock calls each', { skip }, async (t) => {
      const store = new RedisStore({
        url: `redis://127.0.0.1:6379/0?prefix=baton-test-${randomBytes(5).toString('hex')}:`,
      });
      try {
        reportAndCheck(t, 'redis', await waitersBehindHolder(store));
      } finally {
        await store.close();
      }
    });
  });

  describe('DynamoDB (dynalite)', () => {
    let engine: LocalDynamo;
    let store: DynamoDBStore;
    let client: ReturnType<typeof sdkClient>;
    before(async () => {
      engine = await startEngine();
      client = sdkClient(engine.endpoint);
      store = new DynamoDBStore({ tableName: tableName(), client, ...warnings() });
      await store.ensureTable();
    });
    after(async () => {
      await store?.close();
      client?.destroy();
      await engine?.close();
    });
    it('20 waiters behind a 2 s holder make at most 10 lock calls each', async (t) => {
      reportAndCheck(t, 'dynamodb', await waitersBehindHolder(store));
    });
  });
});
