import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionManager } from '../../core/manager.js';
import type { Session, SessionData } from '../../core/session.js';
import { errorBody, errorStatus } from '../errors.js';
import { type ProxyOptions, type ProxySessionOptions, resolveTrustProxy, toManager } from '../options.js';
import { applyHeaders, nodeRequestInfo, nodeSecure } from './headers.js';
import { holdResponse, releaseOnClose } from './hold.js';

/** The session: data as plain properties plus the session methods. */
export type RequestSession = Session & Partial<SessionData>;

/** A `node:http` request handler that gets the request's session. */
export type SessionHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  session: RequestSession,
) => unknown | Promise<unknown>;

export interface NodeSessions {
  /** Loads the session the request refers to (or a new, unsaved one). Store failures reject with a 503 error. */
  load(req: IncomingMessage): Promise<RequestSession>;
  /**
   * Writes the session and sets `Set-Cookie` / `Cache-Control` on the response. Call it before
   * `writeHead`, `write` or `end`. On failure nothing is set and the error (503 for the store) rejects.
   */
  commit(session: Session, res: ServerResponse): Promise<void>;
  /** Releases the session (its lock, in `'lock'` mode) without writing, for a request that failed. */
  abandon(session: Session): Promise<void>;
  /**
   * Wraps a handler: loads the session, holds the handler's output until the session is committed,
   * and answers errors (503 when the store fails) as JSON `{ error, code }` with the error's status.
   */
  withSession(handler: SessionHandler): (req: IncomingMessage, res: ServerResponse) => void;
  /** The manager behind the adapter (events, `listByUser`, `destroyUser`). */
  readonly manager: SessionManager;
}

/**
 * Sessions for plain `node:http` servers: `createSessions({ store, secret })`. Takes the options of
 * `session()` (plus `trustProxy`) or a `SessionManager` shared with other adapters.
 */
export function createSessions(
  options: ProxySessionOptions | SessionManager,
  adapterOptions: ProxyOptions = {},
): NodeSessions {
  const manager = toManager(options);
  const trustProxy = resolveTrustProxy(options, adapterOptions);

  const load = (req: IncomingMessage) =>
    manager.load(
      nodeRequestInfo(req.headers, nodeSecure(req, trustProxy), 'node-http', () => req.socket.remoteAddress),
    ) as Promise<RequestSession>;

  const commit = async (session: Session, res: ServerResponse) => {
    if (res.headersSent) {
      await manager.abandon(session);
      throw new Error(
        '[baton-session] [node-http] commit() came after the response headers were sent; call it before writeHead(), write() or end()',
      );
    }
    applyHeaders(res, await manager.commit(session));
  };

  const withSession = (handler: SessionHandler) =>
    function batonSession(req: IncomingMessage, res: ServerResponse): void {
      load(req).then(
        (session) => {
          const held = holdResponse(res, {
            commit: () => manager.commit(session),
            apply: (result) => applyHeaders(res, result),
            fail: (err) => sendError(res, err),
          });
          releaseOnClose(manager, session, res);
          Promise.resolve()
            .then(() => handler(req, res, session))
            .catch(async (err: unknown) => {
              // A complete response goes out once committed; a half-written one is cut off.
              if (held.ended) return;
              if (held.started) return void res.destroy();
              await manager.abandon(session);
              sendError(res, err);
            });
        },
        (err: unknown) => sendError(res, err),
      );
    };

  return { load, commit, abandon: (session) => manager.abandon(session), withSession, manager };
}

/** An error response with the error's status (503 for store failures) and no session cookie. */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = errorStatus(err);
  res.removeHeader('set-cookie');
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(errorBody(err, status)));
}

export { SessionManager } from '../../core/manager.js';
export { holdResponse } from './hold.js';
export type { ProxyOptions, ProxySessionOptions };
