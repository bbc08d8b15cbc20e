/**
 * Every app under examples/ runs: two instances of each over one DynamoDB table (dynalite, in this
 * process) share sessions, and one runs alone on its default memory store. They import
 * `baton-session/...` as an app would, which resolves to dist/: `npm test` builds first.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { DynamoDBStore, type LocalDynamo, startLocalDynamo } from '../src/stores/dynamodb/index.js';
import { Jar } from './helpers/http.js';

const EXAMPLES = ['express', 'fastify', 'koa', 'hono', 'web', 'node-http', 'express-session'];

interface Running {
  url: string;
  child: ChildProcess;
}

function startExample(name: string, env: Record<string, string>, timeoutMs = 30_000): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', `examples/${name}/server.ts`], {
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`${name}: no "listening on" line within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /listening on (http:\/\/[\d.:]+)/.exec(output)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ url, child });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name}: exited with ${code} before listening:\n${output}`));
    });
  });
}

async function stop(...running: Running[]): Promise<void> {
  await Promise.all(
    running.map(async ({ child }) => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    }),
  );
}

describe('examples/', () => {
  let dynamo: LocalDynamo;
  const table = `examples-${randomBytes(4).toString('hex')}`;
  before(async () => {
    assert.ok(
      existsSync('dist/adapters/web/index.js'),
      'the examples import the built package: run `npm run build` first',
    );
    dynamo = await startLocalDynamo({ port: 0, memory: true });
    // Made once here, so the instances started side by side find it ready.
    const store = new DynamoDBStore({
      tableName: table,
      clientConfig: {
        endpoint: dynamo.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      },
    });
    await store.ensureTable();
    await store.close();
  });
  after(() => dynamo.close());

  for (const name of EXAMPLES) {
    it(`${name}: two instances over one DynamoDB table share views and the login`, async () => {
      const env = { DYNAMODB_ENDPOINT: dynamo.endpoint, SESSIONS_TABLE: table };
      const started = await Promise.allSettled([startExample(name, env), startExample(name, env)]);
      const running = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const failed = started.find((r) => r.status === 'rejected');
      if (failed) {
        await stop(...running);
        throw failed.reason;
      }
      const [a, b] = running as [Running, Running];
      try {
        const jar = new Jar();
        assert.deepEqual((await jar.request(a.url, '/')).body, { views: 1, user: null });
        assert.deepEqual((await jar.request(b.url, '/')).body, { views: 2, user: null });
        const anonymous = jar.cookie;
        assert.deepEqual((await jar.request(a.url, '/login?user=jack', { method: 'POST' })).body, {
          user: 'jack',
        });
        assert.notEqual(jar.cookie, anonymous, 'a new id on login');
        assert.equal((await jar.request(b.url, '/')).body.user, 'jack', 'the other instance knows the login');
        await jar.request(b.url, '/logout', { method: 'POST' });
        const replay = await new Jar().request(a.url, '/', { headers: { cookie: anonymous ?? '' } });
        assert.equal(replay.body.user, null);
        assert.deepEqual(
          (await jar.request(a.url, '/')).body,
          { views: 1, user: null },
          'logged out on A too',
        );
      } finally {
        await stop(a, b);
      }
    });
  }

  it('without DYNAMODB_ENDPOINT an example runs alone on the memory store', async () => {
    const env = { DYNAMODB_ENDPOINT: '' };
    const a = await startExample('hono', env);
    try {
      const jar = new Jar();
      assert.equal((await jar.request(a.url, '/')).body.views, 1);
      assert.equal((await jar.request(a.url, '/')).body.views, 2);
    } finally {
      await stop(a);
    }
  });
});
