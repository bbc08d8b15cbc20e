import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { createSessions, type NodeSessions } from '../../src/adapters/node-http/index.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { adapterSuite, SECRET } from '../helpers/adapter-suite.js';
import { faulty } from '../helpers/faulty-store.js';
import { close, Jar, listen } from '../helpers/http.js';
import { baseUrl, nodeServer, type Tls } from '../helpers/tls.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function makeServer(sessions: NodeSessions, name: string, tls?: Tls) {
  return nodeServer(
    sessions.withSession(async (req, res, session) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const q = Object.fromEntries(url.searchParams);
      const route = `${req.method} ${url.pathname}`;
      const json = (body: unknown) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(body));
      };
      if (route === 'GET /state') return json({ instance: name, data: { ...session } });
      if (route === 'POST /set') {
        if (q.delay) await sleep(Number(q.delay));
        session[q.key!] = q.value;
      } else if (route === 'POST /login') {
        await session.regenerate();
        session.userId = q.user;
      } else if (route === 'POST /logout') await session.destroy();
      else if (route === 'POST /hang') {
        session[q.key!] = 'hung';
        await new Promise(() => {});
      } else if (route === 'POST /boom') {
        session[q.key!] = 'lost';
        throw new Error('boom');
      } else if (route === 'GET /end-then-throw') {
        session.ended = true;
        res.end('complete');
        throw new Error('after end');
      } else if (route === 'GET /write-then-throw') {
        session.partial = true;
        res.write('half');
        throw new Error('mid-response');
      } else if (route === 'GET /chunks') {
        session.chunked = true;
        res.write('one,');
        await sleep(5);
        res.write('two,');
        return res.end('three');
      }
      json({ ok: true });
    }),
    tls,
  );
}

adapterSuite('node:http', async (options, name, tls) => {
  const server = makeServer(createSessions(options, { trustProxy: true }), name, tls);
  await listen(server);
  return { url: baseUrl(server, tls), close: () => close(server) };
});

describe('node:http: load and commit by hand', () => {
  it('commit(session, res) sets the cookie before the handler writes', async () => {
    const sessions = createSessions({ store: new MemoryStore(), secret: SECRET });
    const server = createServer(async (req, res) => {
      const session = await sessions.load(req);
      session.views = ((session.views as number | undefined) ?? 0) + 1;
      await sessions.commit(session, res);
      res.end(String(session.views));
    });
    const url = await listen(server);
    try {
      const jar = new Jar();
      assert.equal((await jar.request(url, '/')).text, '1');
      assert.ok(jar.cookie);
      assert.equal((await jar.request(url, '/')).text, '2');
    } finally {
      await close(server);
    }
  });

  it('commit after the headers were sent is refused with a clear error, and the session is not written', async () => {
    const store = new MemoryStore();
    const sessions = createSessions({ store, secret: SECRET });
    let error: Error | undefined;
    const server = createServer(async (req, res) => {
      const session = await sessions.load(req);
      session.late = true;
      res.end('done');
      try {
        await sessions.commit(session, res);
      } catch (err) {
        error = err as Error;
      }
    });
    const url = await listen(server);
    try {
      await fetch(url);
      for (let i = 0; error === undefined && i < 100; i++) await sleep(1);
      assert.match(error?.message ?? '', /after the response headers were sent/);
      assert.equal(store.size, 0);
    } finally {
      await close(server);
    }
  });

  it('withSession holds a chunked response until the commit, then sends it whole', async () => {
    const server = makeServer(createSessions({ store: new MemoryStore(), secret: SECRET }), 'A');
    const url = await listen(server);
    try {
      const jar = new Jar();
      const reply = await jar.request(url, '/chunks');
      assert.equal(reply.text, 'one,two,three');
      assert.equal(reply.setCookie.length, 1);
      assert.equal((await jar.request(url, '/state')).body.data.chunked, true);
    } finally {
      await close(server);
    }
  });

  it('withSession: a handler that throws after end() still sends its complete, committed response', async () => {
    const server = makeServer(createSessions({ store: new MemoryStore(), secret: SECRET }), 'A');
    const url = await listen(server);
    try {
      const jar = new Jar();
      const reply = await jar.request(url, '/end-then-throw');
      assert.equal(reply.status, 200);
      assert.equal(reply.text, 'complete');
      assert.equal((await jar.request(url, '/state')).body.data.ended, true);
    } finally {
      await close(server);
    }
  });

  it('withSession: a handler that throws mid-response has its response cut off', async () => {
    const server = makeServer(createSessions({ store: new MemoryStore(), secret: SECRET }), 'A');
    const url = await listen(server);
    try {
      await assert.rejects(async () => {
        const res = await fetch(`${url}/write-then-throw`);
        await res.text();
      });
    } finally {
      await close(server);
    }
  });

  it('withSession: an outage answers 503 JSON with the code and no cookie', async () => {
    const store = faulty(new MemoryStore());
    const server = makeServer(createSessions({ store, secret: SECRET }), 'A');
    const url = await listen(server);
    try {
      store.fail(['create']);
      const reply = await new Jar().request(url, '/set?key=a&value=1', { method: 'POST' });
      assert.equal(reply.status, 503);
      assert.deepEqual(reply.body, { error: 'Service Unavailable', code: 'BATON_STORE_UNAVAILABLE' });
      assert.deepEqual(reply.setCookie, []);
    } finally {
      await close(server);
    }
  });
});
