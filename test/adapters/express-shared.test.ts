/** The Express middleware through the suite every adapter passes (its own cases are in express.test.ts). */
import express from 'express';
import { session } from '../../src/adapters/express/index.js';
import { adapterSuite } from '../helpers/adapter-suite.js';
import { close, listen } from '../helpers/http.js';
import { baseUrl, nodeServer } from '../helpers/tls.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

adapterSuite(
  'Express',
  async (options, name, tls) => {
    const app = express();
    app.set('trust proxy', true);
    app.use(session(options));
    app.get('/state', (req, res) => {
      res.json({ instance: name, data: { ...req.session } });
    });
    app.post('/set', async (req, res) => {
      const q = req.query as Record<string, string>;
      if (q.delay) await sleep(Number(q.delay));
      req.session[q.key!] = q.value;
      res.json({ ok: true });
    });
    app.post('/login', async (req, res) => {
      await req.session.regenerate();
      req.session.userId = req.query.user;
      res.json({ ok: true });
    });
    app.post('/logout', async (req, res) => {
      await req.session.destroy();
      res.json({ ok: true });
    });
    app.post('/hang', async (req) => {
      req.session[req.query.key as string] = 'hung';
      await new Promise(() => {});
    });
    app.post('/boom', (req) => {
      req.session[req.query.key as string] = 'lost';
      throw Object.assign(new Error('boom'), { expose: false });
    });
    // Express's default error handler answers with err.status and prints the stack; keep the output quiet.
    app.use(
      (
        err: { status?: number },
        _req: express.Request,
        res: express.Response,
        _next: express.NextFunction,
      ) => {
        res.status(err.status ?? 500).json({ error: 'failed' });
      },
    );
    const server = nodeServer(app, tls);
    await listen(server);
    return { url: baseUrl(server, tls), close: () => close(server) };
  },
  { errorKeepsChanges: true },
);
