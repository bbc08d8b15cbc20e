/**
 * Every app under examples/ starts, keeps a session across requests, logs in and out. They import
 * `baton-session/...` as an app would, which resolves to dist/: `npm test` builds first.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { Jar } from './helpers/http.js';

const EXAMPLES = ['express', 'fastify', 'koa', 'hono', 'web', 'node-http', 'express-session'];

function waitForUrl(child: ChildProcess, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`no "listening on" line within ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /listening on (http:\/\/[\d.:]+)/.exec(output)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve(url);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${output}`));
    });
  });
}

describe('examples/', () => {
  before(() => {
    assert.ok(
      existsSync('dist/adapters/web/index.js'),
      'the examples import the built package: run `npm run build` first',
    );
  });

  for (const name of EXAMPLES) {
    it(`${name}: starts, counts views in the session, logs in and out`, async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', `examples/${name}/server.ts`], {
        env: { ...process.env, PORT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        const url = await waitForUrl(child);
        const jar = new Jar();
        assert.deepEqual((await jar.request(url, '/')).body, { views: 1, user: null });
        assert.deepEqual((await jar.request(url, '/')).body, { views: 2, user: null });
        const before = jar.cookie;
        assert.deepEqual((await jar.request(url, '/login?user=jack', { method: 'POST' })).body, {
          user: 'jack',
        });
        assert.notEqual(jar.cookie, before, 'a new id on login');
        assert.equal((await jar.request(url, '/')).body.user, 'jack');
        await jar.request(url, '/logout', { method: 'POST' });
        assert.deepEqual((await jar.request(url, '/')).body, { views: 1, user: null });
      } finally {
        child.kill();
        if (child.exitCode === null) await once(child, 'exit');
      }
    });
  }
});
