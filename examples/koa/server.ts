// Run: npm run build && node --import tsx examples/koa/server.ts   (PORT=3000 by default)
// Shared by several instances: `npx baton local`, then DYNAMODB_ENDPOINT=http://127.0.0.1:8000 PORT=3001 ... (see ../store.ts)

import { session } from 'baton-session/koa';
import Koa from 'koa';
import { exampleStore, secret } from '../store.js';

const app = new Koa();
app.use(
  session({
    store: await exampleStore(),
    secret,
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
