// Run: npm run build && node --import tsx examples/koa/server.ts   (PORT=3000 by default)

import { session } from 'baton-session/koa';
import { MemoryStore } from 'baton-session/memory';
import Koa from 'koa';

// One process here; with a shared store (DynamoDB, Redis...) run as many instances as you like.
const app = new Koa();
app.use(
  session({
    store: new MemoryStore(),
    secret: process.env.SESSION_SECRET ?? 'change-me-to-32-or-more-characters!!',
  }),
);

app.use(async (ctx) => {
  if (ctx.method === 'POST' && ctx.path === '/login') {
    await ctx.session.login(String(ctx.query.user ?? 'jack'));
    ctx.body = { user: ctx.session.userId };
  } else if (ctx.method === 'POST' && ctx.path === '/logout') {
    await ctx.session.destroy();
    ctx.body = { user: null };
  } else if (ctx.path === '/') {
    ctx.session.views = ((ctx.session.views as number | undefined) ?? 0) + 1;
    ctx.body = { views: ctx.session.views, user: ctx.session.userId ?? null };
  }
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`listening on http://127.0.0.1:${port}`);
});
