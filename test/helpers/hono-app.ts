/** The Hono app the adapter tests run as several instances (routes: see adapter-suite.ts). */
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { session } from '../../src/adapters/hono/index.js';
import type { SessionManager } from '../../src/core/manager.js';
import type { SessionOptions } from '../../src/core/options.js';
import { close, listen } from './http.js';
import { baseUrl, type Tls } from './tls.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function makeApp(options: SessionOptions | SessionManager, name: string) {
  const app = new Hono();
  app.use(session(options, { trustProxy: true }));
  app.get('/state', (c) => c.json({ instance: name, data: { ...c.get('session') } }));
  app.post('/set', async (c) => {
    const delay = c.req.query('delay');
    if (delay) await sleep(Number(delay));
    c.get('session')[c.req.query('key')!] = c.req.query('value');
    return c.json({ ok: true });
  });
  app.post('/login', async (c) => {
    const s = c.get('session');
    await s.regenerate();
    s.userId = c.req.query('user');
    return c.json({ ok: true });
  });
  app.post('/logout', async (c) => {
    await c.get('session').destroy();
    return c.json({ ok: true });
  });
  app.post('/hang', async (c) => {
    c.get('session')[c.req.query('key')!] = 'hung';
    return new Promise<Response>(() => {});
  });
  app.post('/boom', (c) => {
    c.get('session')[c.req.query('key')!] = 'lost';
    // An HTTPException keeps Hono's default handler from logging a stack for this expected error.
    throw new HTTPException(500, { message: 'boom' });
  });
  app.get('/redirect', (c) => {
    c.get('session').visited = true;
    return c.redirect('/state');
  });
  return app;
}

export async function serve(app: Hono, tls?: Tls) {
  const server = (
    tls
      ? createAdaptorServer({ fetch: app.fetch, createServer: createHttpsServer, serverOptions: tls })
      : createAdaptorServer({ fetch: app.fetch })
  ) as Server;
  await listen(server);
  return { url: baseUrl(server, tls), close: () => close(server) };
}
