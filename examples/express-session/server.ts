// Run: npm run build && node --import tsx examples/express-session/server.ts   (PORT=3000 by default)
// Shared by several instances: `npx baton local`, then DYNAMODB_ENDPOINT=http://127.0.0.1:8000 PORT=3001 ... (see ../store.ts)
// For apps that keep express-session: only the store changes.

import { ExpressSessionStore } from 'baton-session/express-session';
import express from 'express';
import session from 'express-session';
import { exampleStore, secret } from '../store.js';

declare module 'express-session' {
  interface SessionData {
    views: number;
    userId: string;
  }
}

const app = express();
app.use(
  session({
    store: new ExpressSessionStore(await exampleStore()),
    secret,
    resave: false, // write only modified sessions
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: 86_400_000 },
  }),
);

app.get('/', (req, res) => {
  req.session.views = (req.session.views ?? 0) + 1;
  res.json({ views: req.session.views, user: req.session.userId ?? null });
});
app.post('/login', (req, res, next) => {
  req.session.regenerate((err) => {
    if (err) return next(err);
    req.session.userId = String(req.query.user ?? 'jack');
    res.json({ user: req.session.userId });
  });
});
app.post('/logout', (req, res, next) => {
  req.session.destroy((err) => (err ? next(err) : res.json({ user: null })));
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`listening on http://127.0.0.1:${port}`);
});
