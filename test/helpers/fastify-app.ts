/** The Fastify app the adapter tests run as several instances (routes: see adapter-suite.ts). */
import Fastify, { type FastifyInstance } from 'fastify';
import { session } from '../../src/adapters/fastify/index.js';
import type { SessionManager } from '../../src/core/manager.js';
import type { SessionOptions } from '../../src/core/options.js';
import { baseUrl, type Tls } from './tls.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
type Query = Record<string, string>;

export async function startFastify(options: SessionOptions | SessionManager, name: string, tls?: Tls) {
  // Fastify's https and http instances have different types; the routes below use neither's specifics.
  const app = (
    tls ? Fastify({ trustProxy: true, https: tls }) : Fastify({ trustProxy: true })
  ) as FastifyInstance;
  await app.register(session, options);
  app.get('/state', async (request) => ({ instance: name, data: { ...request.session } }));
  app.post('/set', async (request) => {
    const q = request.query as Query;
    if (q.delay) await sleep(Number(q.delay));
    request.session[q.key!] = q.value;
    return { ok: true };
  });
  app.post('/login', async (request) => {
    await request.session.regenerate();
    request.session.userId = (request.query as Query).user;
    return { ok: true };
  });
  app.post('/logout', async (request) => {
    await request.session.destroy();
    return { ok: true };
  });
  app.post('/hang', async (request) => {
    request.session[(request.query as Query).key!] = 'hung';
    await new Promise(() => {});
  });
  app.post('/boom', async (request) => {
    request.session[(request.query as Query).key!] = 'lost';
    throw new Error('boom');
  });
  app.get('/stream', async (request, reply) => {
    request.session.streamed = true;
    reply.type('text/plain');
    return Buffer.from('streamed body');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    url: baseUrl(app.server, tls),
    close: () => app.close(),
  };
}
