// Run: npm run build && node --import tsx examples/hono/server.ts   (PORT=3000 by default)
// Shared by several instances: `npx baton local`, then DYNAMODB_ENDPOINT=http://127.0.0.1:8000 PORT=3001 ... (see ../store.ts)
import { serve } from '@hono/node-server';
import { session } from 'baton-session/hono';
import { Hono } from 'hono';
import { exampleStore, secret } from '../store.js';

const app = new Hono();
app.use(
  session({
    store: await exampleStore(),
    secret,
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
