/** The Express app the integration tests run as several instances over one store. */
import express from 'express';
import { session } from '../../src/adapters/express/index.js';
import type { SessionOptions } from '../../src/core/options.js';

export const SECRET = 'test-secret-that-is-long-enough-0123456789';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function makeApp(
  options: Omit<SessionOptions, 'secret'> & { secret?: SessionOptions['secret'] },
  name = 'A',
) {
  const app = express();
  const middleware = session({ secret: SECRET, ...options });
  app.use(express.json());
  app.use(middleware);

  app.get('/state', (req, res) => {
    res.json({ instance: name, data: { ...req.session } });
  });
  app.post('/set', async (req, res) => {
    if (req.body.delayMs) await sleep(req.body.delayMs);
    req.session[req.body.key] = req.body.value;
    res.json({ ok: true });
  });
  app.post('/push', async (req, res) => {
    const list = (req.session.list as unknown[] | undefined) ?? [];
    if (req.body.delayMs) await sleep(req.body.delayMs);
    req.session.list = [...list, req.body.value];
    res.json({ ok: true });
  });
  app.post('/basket', (req, res) => {
    if (!Array.isArray(req.session.basket)) req.session.basket = [];
    (req.session.basket as unknown[]).push(req.body.item);
    res.json(req.session.basket);
  });
  app.post('/login', async (req, res) => {
    await req.session.regenerate();
    req.session.userId = req.body.user;
    res.json({ ok: true });
  });
  app.post('/logout', async (req, res) => {
    await req.session.destroy();
    res.json({ ok: true });
  });
  app.post('/bad', (req, res) => {
    if (req.body.kind === 'bigint') req.session.big = 10n;
    else {
      const a: Record<string, unknown> = {};
      a.self = a;
      req.session.cycle = a;
    }
    res.json({ ok: true });
  });
  app.post('/save-then-set', async (req, res) => {
    req.session.first = 1;
    await req.session.save();
    req.session.second = 2;
    res.json({ ok: true });
  });
  app.use(
    (
      err: { status?: number; code?: string; message: string },
      _req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      res.status(err.status ?? 500).json({ code: err.code, message: err.message });
    },
  );
  return { app, manager: middleware.manager };
}
