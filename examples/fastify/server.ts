// Run: npm run build && node --import tsx examples/fastify/server.ts   (PORT=3000 by default)

import { session } from 'baton-session/fastify';
import { MemoryStore } from 'baton-session/memory';
import Fastify from 'fastify';

// One process here; with a shared store (DynamoDB, Redis...) run as many instances as you like.
const app = Fastify();
await app.register(session, {
  store: new MemoryStore(),
  secret: process.env.SESSION_SECRET ?? 'change-me-to-32-or-more-characters!!',
});

app.get('/', async (request) => {
  request.session.views = ((request.session.views as number | undefined) ?? 0) + 1;
  return { views: request.session.views, user: request.session.userId ?? null };
});
app.post('/login', async (request) => {
  await request.session.login(String((request.query as { user?: string }).user ?? 'jack'));
  return { user: request.session.userId };
});
app.post('/logout', async (request) => {
  await request.session.destroy();
  return { user: null };
});

const url = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
console.log(`listening on ${url}`);
