import type { SessionManager } from '../../core/manager.js';
import type { Session, SessionData } from '../../core/session.js';
import { errorBody, errorStatus } from '../errors.js';
import { type ProxyOptions, type ProxySessionOptions, resolveTrustProxy, toManager } from '../options.js';
import { appendHeaders, fetchRequestInfo, releaseOnAbort } from './headers.js';

/** The session: data as plain properties plus the session methods. */
export type RequestSession = Session & Partial<SessionData>;

/** A Fetch-API handler that gets the request's session. */
export type SessionHandler = (request: Request, session: RequestSession) => Response | Promise<Response>;

export interface WebSessions {
  /** Loads the session the request refers to (or a new, unsaved one). Store failures reject with a 503 error. */
  load(request: Request): Promise<RequestSession>;
  /**
   * Writes the session, then appends `Set-Cookie` (and sets `Cache-Control: no-store` when a cookie
   * or token is issued) on the response headers you pass. Await it before returning the response.
   * On failure nothing is added and the error (503 for the store) rejects.
   */
  commit(session: Session, headers: Headers): Promise<void>;
  /** Releases the session (its lock, in `'lock'` mode) without writing, for a request that failed. */
  abandon(session: Session): Promise<void>;
  /**
   * Wraps a handler: load, run, commit into the response's headers, and answer errors (503 when the
   * store fails) as JSON `{ error, code }` with the error's status.
   */
  withSession(handler: SessionHandler): (request: Request) => Promise<Response>;
  /** The manager behind the adapter (events, `listByUser`, `destroyUser`). */
  readonly manager: SessionManager;
}

/**
 * Sessions for any Fetch-API handler (Next.js route handlers, Bun, Deno, Cloudflare-style handlers
 * on Node): `createSessions({ store, secret })`. Takes the options of `session()` (plus
 * `trustProxy`) or a `SessionManager` shared with other adapters.
 */
export function createSessions(
  options: ProxySessionOptions | SessionManager,
  adapterOptions: ProxyOptions = {},
): WebSessions {
  const manager = toManager(options);
  const trustProxy = resolveTrustProxy(options, adapterOptions);

  const load = (request: Request) =>
    manager.load(fetchRequestInfo(request, trustProxy, 'web')) as Promise<RequestSession>;

  const commit = async (session: Session, headers: Headers) => {
    appendHeaders(headers, await manager.commit(session));
  };

  const withSession = (handler: SessionHandler) =>
    async function batonSession(request: Request): Promise<Response> {
      let session: RequestSession;
      try {
        session = await load(request);
      } catch (err) {
        return errorResponse(err);
      }
      releaseOnAbort(manager, session, request);
      let response: Response;
      try {
        response = await handler(request, session);
      } catch (err) {
        await manager.abandon(session);
        return errorResponse(err);
      }
      try {
        const result = await manager.commit(session);
        // Responses from fetch() or Response.redirect() have immutable headers: copy before adding.
        const out = new Response(response.body, response);
        appendHeaders(out.headers, result);
        return out;
      } catch (err) {
        // The handler's body is never sent; cancelling it only frees its source.
        await response.body?.cancel().catch(() => undefined);
        return errorResponse(err);
      }
    };

  return { load, commit, abandon: (session) => manager.abandon(session), withSession, manager };
}

/** An error response with the error's status (503 for store failures) and no session cookie. */
export function errorResponse(err: unknown): Response {
  const status = errorStatus(err);
  return Response.json(errorBody(err, status), { status, headers: { 'cache-control': 'no-store' } });
}

export { SessionManager } from '../../core/manager.js';
export type { ProxyOptions, ProxySessionOptions };
