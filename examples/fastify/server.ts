// Run: npm run build && node --import tsx examples/fastify/server.ts   (PORT=3000 by default)
// Shared by several instances: `npx baton local`, then DYNAMODB_ENDPOINT=http://127.0.0.1:8000 PORT=3001 ... (see ../store.ts)

import { session } from 'baton-session/fastify';
import Fastify from 'fastify';
import { exampleStore, secret } from '../store.js';

const app = Fastify();
await app.register(session, {
  store: await exampleStore(),
  secret,
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
