import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { describe, it } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import { createSessions, type WebSessions } from '../../src/adapters/web/index.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { adapterSuite, SECRET } from '../helpers/adapter-suite.js';
import { faulty } from '../helpers/faulty-store.js';
import { close, Jar, listen } from '../helpers/http.js';
import { baseUrl, type Tls } from '../helpers/tls.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A plain Fetch-API handler, as a Next.js route handler or a Bun/Deno server would have. */
function makeHandler(sessions: WebSessions, name: string) {
  return sessions.withSession(async (request, session) => {
    const url = new URL(request.url);
    const q = Object.fromEntries(url.searchParams);
    const route = `${request.method} ${url.pathname}`;
    if (route === 'GET /state') return Response.json({ instance: name, data: { ...session } });
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
    } else if (route === 'GET /redirect') {
      session.visited = true;
      return Response.redirect(new URL('/state', url), 302);
    } else return new Response('not found', { status: 404 });
    return Response.json({ ok: true });
  });
}

async function serve(fetchHandler: (request: Request) => Promise<Response>, tls?: Tls) {
  const server = (
    tls
      ? createAdaptorServer({ fetch: fetchHandler, createServer: createHttpsServer, serverOptions: tls })
      : createAdaptorServer({ fetch: fetchHandler })
  ) as Server;
  await listen(server);
  return { url: baseUrl(server, tls), close: () => close(server) };
}

adapterSuite('Web (Fetch API)', (options, name, tls) =>
  serve(makeHandler(createSessions(options, { trustProxy: true }), name), tls),
);

describe('Web: load and commit by hand', () => {
  it('load(request) + commit(session, headers) in any handler', async () => {
    const sessions = createSessions({ store: new MemoryStore(), secret: SECRET });
    const handler = async (request: Request) => {
      const session = await sessions.load(request);
      session.count = ((session.count as number | undefined) ?? 0) + 1;
      const headers = new Headers({ 'content-type': 'text/plain' });
      await sessions.commit(session, headers);
      return new Response(String(session.count), { headers });
    };
    const first = await handler(new Request('http://app.test/'));
    assert.equal(await first.text(), '1');
    const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!;
    assert.equal(first.headers.get('cache-control'), 'no-store');
    const second = await handler(new Request('http://app.test/', { headers: { cookie } }));
    assert.equal(await second.text(), '2');
  });

  it('secure: from the URL, or X-Forwarded-Proto only with trustProxy (option or second argument)', async () => {
    const set = async (sessions: WebSessions, request: Request) => {
      const session = await sessions.load(request);
      session.a = 1;
      const headers = new Headers();
      await sessions.commit(session, headers);
      return headers.getSetCookie()[0] ?? '';
    };
    const store = new MemoryStore();
    const plain = createSessions({ store, secret: SECRET });
    const trusting = createSessions({ store, secret: SECRET, trustProxy: true });
    const forwarded = () =>
      new Request('http://app.test/', { headers: { 'x-forwarded-proto': 'https, http' } });
    assert.match(await set(plain, new Request('https://app.test/')), /; Secure/);
    assert.doesNotMatch(await set(plain, forwarded()), /Secure/);
    assert.match(await set(trusting, forwarded()), /; Secure/);
    assert.match(await set(createSessions(plain.manager, { trustProxy: true }), forwarded()), /; Secure/);
  });

  it('a bad trustProxy is a ConfigError naming it', () => {
    assert.throws(
      () => createSessions({ store: new MemoryStore(), secret: SECRET, trustProxy: 'yes' as never }),
      { code: 'BATON_CONFIG', message: /trustProxy/ },
    );
  });

  it('withSession: an outage answers 503 JSON with the code and no cookie', async () => {
    const store = faulty(new MemoryStore());
    const app = await serve(makeHandler(createSessions({ store, secret: SECRET }), 'A'));
    try {
      store.fail(['create']);
      const reply = await new Jar().request(app.url, '/set?key=a&value=1', { method: 'POST' });
      assert.equal(reply.status, 503);
      assert.deepEqual(reply.body, { error: 'Service Unavailable', code: 'BATON_STORE_UNAVAILABLE' });
      assert.deepEqual(reply.setCookie, []);
    } finally {
      await app.close();
    }
  });

  it('withSession: adds the cookie to a Response.redirect (immutable headers)', async () => {
    const app = await serve(makeHandler(createSessions({ store: new MemoryStore(), secret: SECRET }), 'A'));
    try {
      const res = await fetch(`${app.url}/redirect`, { redirect: 'manual' });
      assert.equal(res.status, 302);
      assert.equal(res.headers.getSetCookie().length, 1);
    } finally {
      await app.close();
    }
  });
});
