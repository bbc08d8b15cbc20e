/**
 * The shop every demo instance runs: an Express app with baton-session, whose JSON API the page
 * uses. The same code serves both clusters; only the store behind the middleware differs.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { ExpressSessionMiddleware } from '../adapters/express/index.js';
import { can } from '../core/capabilities.js';
import { deviceRoutes, traceRequests } from './devices.js';

/** Longest item or user name the shop accepts, in characters. */
export const MAX_NAME_LENGTH = 40;
/** Most items a basket holds. */
export const MAX_BASKET_ITEMS = 50;
/** The sessions panel counts live sessions up to this many. */
export const MAX_COUNTED_SESSIONS = 1000;

export interface DemoState {
  /** The instance that served the request. */
  instance: string;
  basket: string[];
  /** The logged-in user, or null. */
  user: string | null;
}

class BadRequest extends Error {
  readonly status = 400;
}

/** A trimmed, non-empty name of at most MAX_NAME_LENGTH characters, or a 400 naming the field. */
function readName(value: unknown, field: string): string {
  const name = typeof value === 'string' ? value.trim() : '';
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new BadRequest(`\`${field}\` must be a non-empty string of at most ${MAX_NAME_LENGTH} characters`);
  }
  return name;
}

function basketOf(req: Request): string[] {
  const basket = req.session.basket;
  return Array.isArray(basket) ? basket.filter((item): item is string => typeof item === 'string') : [];
}

function userOf(req: Request, userKey: string): string | null {
  const user = req.session[userKey];
  return typeof user === 'string' ? user : null;
}

/** The demo shop as an Express app for the instance called `name`. */
export function createDemoApp(name: string, middleware: ExpressSessionMiddleware): express.Express {
  const { manager } = middleware;
  const userKey = manager.userKey;
  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.setHeader('x-instance', name);
    res.setHeader('cache-control', 'no-store');
    next();
  });
  app.get('/healthz', (_req, res) => {
    res.json({ instance: name });
  });
  app.use(express.json({ limit: '4kb' }));
  const lastTrace = traceRequests(app);
  app.use(middleware);

  const state = (req: Request): DemoState => ({
    instance: name,
    basket: basketOf(req),
    user: userOf(req, userKey),
  });

  app.get('/api/state', (req, res) => {
    res.json(state(req));
  });

  app.post('/api/basket', (req, res) => {
    const item = readName(req.body?.item, 'item');
    const basket = basketOf(req);
    if (basket.length >= MAX_BASKET_ITEMS) {
      throw new BadRequest(`the basket holds at most ${MAX_BASKET_ITEMS} items`);
    }
    req.session.basket = [...basket, item];
    res.json(state(req));
  });

  app.delete('/api/basket/:item', (req, res) => {
    const item = String(req.params.item);
    const basket = basketOf(req);
    const at = basket.indexOf(item);
    if (at >= 0) {
      basket.splice(at, 1);
      req.session.basket = basket;
    }
    res.json(state(req));
  });

  app.post('/api/login', async (req, res) => {
    const user = readName(req.body?.user, 'user');
    // login() regenerates the id (no session fixation) and keeps the basket.
    await req.session.login(user);
    res.json(state(req));
  });

  app.post('/api/logout', async (req, res) => {
    await req.session.destroy();
    res.json(state(req));
  });

  /** Live sessions in this instance's store, and the logged-in user's sessions. */
  app.get('/api/sessions', async (req, res) => {
    const user = userOf(req, userKey);
    const current = req.session.isNew ? undefined : manager.keyFor(req.session.id);
    let live = 0;
    if (can(manager.store, 'scan')) {
      for await (const _ of manager.store.scan!({ limit: MAX_COUNTED_SESSIONS })) live++;
    }
    const mine = user === null ? [] : await manager.listByUser(user);
    res.json({
      instance: name,
      store: manager.store.name,
      live,
      capped: live >= MAX_COUNTED_SESSIONS,
      user,
      sessions: mine
        .sort((a, b) => a.createdAt - b.createdAt)
        .map((s) => ({
          // The store key is a hash of the id, useless to anyone who sees it; a prefix names it here.
          id: s.key.slice(0, 8),
          current: s.key === current,
          createdAt: s.createdAt,
          expiresAt: s.expiresAt,
        })),
    });
  });

  /** Log out everywhere: deletes every session of the logged-in user, this one included. */
  app.post('/api/sessions/logout-everywhere', async (req, res) => {
    const user = userOf(req, userKey);
    if (user === null) throw new BadRequest('log in first: there is no user to log out everywhere');
    const destroyed = await manager.destroyUser(user);
    // This request's session was among them: make sure its commit writes nothing and clears the cookie.
    await req.session.destroy();
    res.json({ instance: name, destroyed });
  });

  deviceRoutes(app, manager, (req) => userOf(req, userKey), lastTrace, name);

  app.use('/api', (_req, res) => {
    res.status(404).json({ instance: name, error: 'no such API route' });
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; statusCode?: number; message?: string; code?: string };
    const status = e.status ?? e.statusCode ?? 500;
    if (status >= 500) console.error(`[${name}]`, err);
    res.status(status).json({ instance: name, error: e.message ?? String(err), code: e.code });
  });
  return app;
}
