import type { Context, MiddlewareHandler } from 'hono';
import type { SessionManager } from '../../core/manager.js';
import type { Session, SessionData } from '../../core/session.js';
import { errorBody, errorStatus } from '../errors.js';
import { type ProxyOptions, type ProxySessionOptions, resolveTrustProxy, toManager } from '../options.js';
import { fetchRequestInfo, releaseOnAbort } from '../web/headers.js';

/** `c.get('session')`: data as plain properties plus the session methods. */
export type RequestSession = Session & Partial<SessionData>;

declare module 'hono' {
  interface ContextVariableMap {
    /** The session, loaded before downstream handlers and committed before the response is returned. */
    session: RequestSession;
  }
}

export interface HonoSessionMiddleware extends MiddlewareHandler {
  /** The manager behind the middleware (events, `listByUser`, `destroyUser`). */
  readonly manager: SessionManager;
}

/**
 * Hono middleware: `app.use(session({ store, secret }))`, then `c.get('session')`. Takes the
 * options of `session()` (plus `trustProxy`) or a `SessionManager` shared with other adapters.
 * Failures are thrown with `status` 503 for the store and a `getResponse()`, so `app.onError` sees
 * them and Hono's default handler answers with that status. A request whose handler failed writes
 * nothing and releases its lock.
 */
export function session(
  options: ProxySessionOptions | SessionManager,
  adapterOptions: ProxyOptions = {},
): HonoSessionMiddleware {
  const manager = toManager(options);
  const trustProxy = resolveTrustProxy(options, adapterOptions);

  const middleware = async function batonSession(c: Context, next: () => Promise<void>): Promise<void> {
    let loaded: RequestSession;
    try {
      loaded = (await manager.load(fetchRequestInfo(c.req.raw, trustProxy, 'hono'))) as RequestSession;
    } catch (err) {
      throw withResponse(err);
    }
    c.set('session', loaded);
    releaseOnAbort(manager, loaded, c.req.raw);
    // Hono catches a handler's error inside next() and turns it into c.res, setting c.error.
    await next();
    if (c.error) {
      await manager.abandon(loaded);
      return;
    }
    let result: Awaited<ReturnType<SessionManager['commit']>>;
    try {
      result = await manager.commit(loaded);
    } catch (err) {
      throw withResponse(err);
    }
    for (const cookie of result.setCookie) c.header('set-cookie', cookie, { append: true });
    for (const [name, value] of Object.entries(result.headers)) c.header(name, value);
  } as HonoSessionMiddleware;
  Object.defineProperty(middleware, 'manager', { value: manager });
  return middleware;
}

/**
 * Gives an error a `getResponse()` (as Hono's HTTPException has) so Hono's default error handler
 * answers with the error's status instead of 500. The error keeps its class, `code` and `status`.
 */
function withResponse(err: unknown): unknown {
  if (typeof err !== 'object' || err === null || 'getResponse' in err) return err;
  const status = errorStatus(err);
  Object.defineProperty(err, 'getResponse', {
    configurable: true,
    value: () => Response.json(errorBody(err, status), { status, headers: { 'cache-control': 'no-store' } }),
  });
  return err;
}

export { SessionManager } from '../../core/manager.js';
export type { ProxyOptions, ProxySessionOptions };
