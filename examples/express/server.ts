// Run: npm run build && node --import tsx examples/express/server.ts   (PORT=3000 by default)

import { session } from 'baton-session/express';
import { MemoryStore } from 'baton-session/memory';
import express from 'express';

// One process here; with a shared store (DynamoDB, Redis...) run as many instances as you like.
const store = new MemoryStore();
const app = express();
app.use(session({ store, secret: process.env.SESSION_SECRET ?? 'change-me-to-32-or-more-characters!!' }));

app.get('/', (req, res) => {
  req.session.views = ((req.session.views as number | undefined) ?? 0) + 1;
  res.json({ views: req.session.views, user: req.session.userId ?? null });
});
app.post('/login', async (req, res) => {
  await req.session.login(String(req.query.user ?? 'jack'));
  res.json({ user: req.session.userId });
});
app.post('/logout', async (req, res) => {
  await req.session.destroy();
  res.json({ user: null });
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`listening on http://127.0.0.1:${port}`);
});
