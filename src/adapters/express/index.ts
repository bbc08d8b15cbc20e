import type { IncomingMessage, ServerResponse } from 'node:http';
import { type CommitResult, SessionManager } from '../../core/manager.js';
import type { SessionOptions } from '../../core/options.js';
import type { Session, SessionData } from '../../core/session.js';
import { applyHeaders, headerValue } from '../node-http/headers.js';
import { holdResponse } from '../node-http/hold.js';

/** `req.session`: data as plain properties plus the session methods. */
export type RequestSession = Session & Partial<SessionData>;

declare global {
  namespace Express {
    interface Request {
      /** The session, loaded before your handlers run and committed before the response is sent. */
      session: RequestSession;
      /** The session id, as express-session names it. */
      sessionID: string;
    }
  }
}

type Next = (err?: unknown) => void;
interface ExpressRequest extends IncomingMessage {
  session?: Session;
  sessionID?: string;
  secure?: boolean;
  ip?: string;
}

export interface ExpressSessionMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: Next): void;
  /** The manager behind the middleware (events, `listByUser`, `destroyUser`). */
  readonly manager: SessionManager;
}

/**
 * Express middleware: `app.use(session({ store, secret }))`. Pass options or a `SessionManager`
 * shared with other adapters. Store failures reach `next(err)` with `err.status` 503.
 */
export function session(options: SessionOptions | SessionManager): ExpressSessionMiddleware {
  const manager = options instanceof SessionManager ? options : new SessionManager(options);

  const middleware = function batonSession(req: ExpressRequest, res: ServerResponse, next: Next): void {
    if (req.session) {
      next();
      return;
    }
    manager
      .load({
        cookie: req.headers.cookie,
        header: (name) => headerValue(req.headers[name]),
        // Express's req.secure honours `trust proxy`; plain node requests fall back to the socket.
        secure: req.secure ?? Boolean((req.socket as { encrypted?: boolean }).encrypted),
        // Express's req.ip honours `trust proxy` too.
        client: req.ip ?? req.socket.remoteAddress,
      })
      .then((loaded) => {
        req.session = loaded;
        Object.defineProperty(req, 'sessionID', {
          configurable: true,
          enumerable: true,
          get: () => loaded.id,
        });
        holdResponse(res, {
          commit: () => manager.commit(loaded),
          apply: (result: CommitResult) => applyHeaders(res, result),
          fail: (err: unknown) => next(err),
        });
        next();
      }, next);
  } as ExpressSessionMiddleware;
  Object.defineProperty(middleware, 'manager', { value: manager });
  return middleware;
}

export type { SessionOptions };
/** Adds the commit's Set-Cookie and headers to a Node response whose headers are not sent yet. */
export { applyHeaders, SessionManager };
