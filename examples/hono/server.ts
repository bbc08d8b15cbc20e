// Run: npm run build && node --import tsx examples/hono/server.ts   (PORT=3000 by default)
import { serve } from '@hono/node-server';
import { session } from 'baton-session/hono';
import { MemoryStore } from 'baton-session/memory';
import { Hono } from 'hono';

// One process here; with a shared store (DynamoDB, Redis...) run as many instances as you like.
const app = new Hono();
app.use(
  session({
    store: new MemoryStore(),
    secret: process.env.SESSION_SECRET ?? 'change-me-to-32-or-more-characters!!',
  }),
);

app.get('/', (c) => {
  const s = c.get('session');
  s.views = ((s.views as number | undefined) ?? 0) + 1;
  return c.json({ views: s.views, user: s.userId ?? null });
});
app.post('/login', async (c) => {
  const s = c.get('session');
  await s.login(c.req.query('user') ?? 'jack');
  return c.json({ user: s.userId });
});
app.post('/logout', async (c) => {
  await c.get('session').destroy();
  return c.json({ user: null });
});

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port}`);
});
