// Run: npm run build && node --import tsx examples/express/server.ts   (PORT=3000 by default)
// Shared by several instances: `npx baton local`, then DYNAMODB_ENDPOINT=http://127.0.0.1:8000 PORT=3001 ... (see ../store.ts)

import { session } from 'baton-session/express';
import express from 'express';
import { exampleStore, secret } from '../store.js';

const app = express();
app.use(session({ store: await exampleStore(), secret }));

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
