/**
 * Two Express instances over one store whose routes can stop at a named gate until the test
 * opens it: the interleaving of a login, a logout and a write is chosen by the test, never by
 * sleeps. `reached(name)` resolves once a request waits at that gate.
 */
import { createServer, type Server } from 'node:http';
import express from 'express';
import { session } from '../../src/adapters/express/index.js';
import type { SessionManager } from '../../src/core/manager.js';
import type { SessionOptions } from '../../src/core/options.js';
import { close, listen } from './http.js';

export const GATED_SECRET = 'gated-secret-that-is-long-enough-0123456789';

interface Gate {
  reached: Promise<void>;
  arrive: () => void;
  open: () => void;
  opened: Promise<void>;
}

export class Gates {
  readonly #gates = new Map<string, Gate>();

  #get(name: string): Gate {
    let gate = this.#gates.get(name);
    if (!gate) {
      let arrive!: () => void;
      let open!: () => void;
      const reached = new Promise<void>((resolve) => (arrive = resolve));
      const opened = new Promise<void>((resolve) => (open = resolve));
      gate = { reached, arrive, open, opened };
      this.#gates.set(name, gate);
    }
    return gate;
  }

  /** Called by a route: marks the gate reached and waits until the test opens it. */
  wait(name: string | undefined): Promise<void> {
    if (!name) return Promise.resolve();
    const gate = this.#get(name);
    gate.arrive();
    return gate.opened;
  }

  reached(name: string): Promise<void> {
    return this.#get(name).reached;
  }

  open(name: string): void {
    this.#get(name).open();
  }
}

function app(options: Omit<SessionOptions, 'secret'>, gates: Gates) {
  const a = express();
  const middleware = session({ secret: GATED_SECRET, ...options });
  a.use(express.json());
  a.use(middleware);
  a.get('/state', (req, res) => {
    res.json({ data: { ...req.session } });
  });
  // What a property the data never held reads as (a stored `__proto__` must not supply it).
  a.get('/probe', (req, res) => {
    res.json({ value: req.session[String(req.query.key)] ?? null });
  });
  a.post('/set', async (req, res) => {
    await gates.wait(req.body.gate);
    req.session[req.body.key] = req.body.value;
    res.json({ ok: true });
  });
  // A login (or privilege change): (gate `before`) regenerate, then (gate `gate`) record the user.
  a.post('/login', async (req, res) => {
    await gates.wait(req.body.before);
    await req.session.regenerate();
    await gates.wait(req.body.gate);
    req.session.userId = req.body.user;
    res.json({ ok: true });
  });
  a.post('/logout', async (req, res) => {
    await gates.wait(req.body.gate);
    await req.session.destroy();
    res.json({ ok: true });
  });
  a.post('/logout-everywhere', async (req, res) => {
    res.json({ ended: await middleware.manager.destroyUser(req.body.user) });
  });
  a.use(
    (
      err: { status?: number; code?: string; message: string },
      _req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      res.status(err.status ?? 500).json({ code: err.code, message: err.message });
    },
  );
  return { app: a, manager: middleware.manager };
}

export interface GatedCluster {
  urls: [string, string];
  managers: [SessionManager, SessionManager];
  gates: Gates;
  close(): Promise<void>;
}

/** Two instances, each with its own options (its own store client), sharing one engine. */
export async function gatedCluster(
  options: [Omit<SessionOptions, 'secret'>, Omit<SessionOptions, 'secret'>],
): Promise<GatedCluster> {
  const gates = new Gates();
  const servers: Server[] = [];
  const urls: string[] = [];
  const managers: SessionManager[] = [];
  for (const opts of options) {
    const made = app(opts, gates);
    const server = createServer(made.app);
    servers.push(server);
    urls.push(await listen(server));
    managers.push(made.manager);
  }
  return {
    urls: urls as [string, string],
    managers: managers as [SessionManager, SessionManager],
    gates,
    close: async () => {
      await Promise.all(servers.map(close));
    },
  };
}
