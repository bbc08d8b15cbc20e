// Run: npm run build && node --import tsx examples/node-http/server.ts   (PORT=3000 by default)
// Shared by several instances: `npx baton local`, then DYNAMODB_ENDPOINT=http://127.0.0.1:8000 PORT=3001 ... (see ../store.ts)
import { createServer } from 'node:http';
import { createSessions } from 'baton-session/node-http';
import { exampleStore, secret } from '../store.js';

const sessions = createSessions({
  store: await exampleStore(),
  secret,
});

// withSession holds the response until the session is committed; errors answer with their status (503).
const server = createServer(
  sessions.withSession(async (req, res, session) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let body: unknown;
    if (req.method === 'POST' && url.pathname === '/login') {
      await session.login(url.searchParams.get('user') ?? 'jack');
      body = { user: session.userId };
    } else if (req.method === 'POST' && url.pathname === '/logout') {
      await session.destroy();
      body = { user: null };
    } else {
      session.views = ((session.views as number | undefined) ?? 0) + 1;
      body = { views: session.views, user: session.userId ?? null };
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  }),
);

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`listening on http://127.0.0.1:${port}`);
});
