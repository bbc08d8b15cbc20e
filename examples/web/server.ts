// Run: npm run build && node --import tsx examples/web/server.ts   (PORT=3000 by default)
// Shared by several instances: `npx baton local`, then DYNAMODB_ENDPOINT=http://127.0.0.1:8000 PORT=3001 ... (see ../store.ts)
// The handler is plain Fetch API (a Next.js route handler, Bun.serve, Deno.serve...); here Node serves it.
import { serve } from '@hono/node-server';
import { createSessions } from 'baton-session/web';
import { exampleStore, secret } from '../store.js';

const sessions = createSessions({
  store: await exampleStore(),
  secret,
});

async function handler(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const session = await sessions.load(request);
  let body: unknown;
  if (request.method === 'POST' && url.pathname === '/login') {
    await session.login(url.searchParams.get('user') ?? 'jack');
    body = { user: session.userId };
  } else if (request.method === 'POST' && url.pathname === '/logout') {
    await session.destroy();
    body = { user: null };
  } else {
    session.views = ((session.views as number | undefined) ?? 0) + 1;
    body = { views: session.views, user: session.userId ?? null };
  }
  const headers = new Headers({ 'content-type': 'application/json' });
  await sessions.commit(session, headers); // before the response exists: the next request sees the write
  return new Response(JSON.stringify(body), { headers });
}

serve({ fetch: handler, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port}`);
});
