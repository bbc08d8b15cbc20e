import type { Middleware, ParameterizedContext } from 'koa';
import type { SessionManager } from '../../core/manager.js';
import type { SessionOptions } from '../../core/options.js';
import type { Session, SessionData } from '../../core/session.js';
import { nodeRequestInfo } from '../node-http/headers.js';
import { releaseOnClose } from '../node-http/hold.js';
import { toManager } from '../options.js';

/** `ctx.session`: data as plain properties plus the session methods. */
export type RequestSession = Session & Partial<SessionData>;

declare module 'koa' {
  interface ExtendableContext {
    /** The session, loaded before downstream middleware and committed before Koa responds. */
    session: RequestSession;
  }
}

export interface KoaSessionMiddleware extends Middleware {
  /** The manager behind the middleware (events, `listByUser`, `destroyUser`). */
  readonly manager: SessionManager;
}

/**
 * Koa middleware: `app.use(session({ store, secret }))`. Takes the options of `session()` or a
 * `SessionManager` shared with other adapters. Failures are thrown with `status` 503 for the store,
 * so Koa's error handling answers them; a request that throws writes nothing and releases its lock.
 * `cookie.secure: 'auto'` follows `ctx.secure`, which honours `app.proxy`.
 */
export function session(options: SessionOptions | SessionManager): KoaSessionMiddleware {
  const manager = toManager(options);

  const middleware = async function batonSession(ctx: ParameterizedContext, next: () => Promise<unknown>) {
    const loaded = (await manager.load(
      nodeRequestInfo(ctx.headers, ctx.secure, 'koa', () => ctx.ip),
    )) as RequestSession;
    ctx.session = loaded;
    releaseOnClose(manager, loaded, ctx.res);
    try {
      await next();
    } catch (err) {
      await manager.abandon(loaded);
      throw err;
    }
    // Koa writes the response only after the middleware chain resolves: the commit lands first.
    const result = await manager.commit(loaded);
    for (const cookie of result.setCookie) ctx.append('Set-Cookie', cookie);
    for (const [name, value] of Object.entries(result.headers)) ctx.set(name, value);
  } as KoaSessionMiddleware;
  Object.defineProperty(middleware, 'manager', { value: manager });
  return middleware;
}

export { SessionManager } from '../../core/manager.js';
export type { SessionOptions };
