import { IncomingMessage, type ServerResponse } from 'node:http';
import { type CommitResult, SessionManager } from '../../core/manager.js';
import type { SessionOptions } from '../../core/options.js';
import type { Session, SessionData } from '../../core/session.js';
import { applyHeaders, headerValue } from '../node-http/headers.js';
import { holdResponse, releaseOnClose } from '../node-http/hold.js';

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
        // Express's req.secure and req.ip honour `trust proxy`; plain node requests fall back to the
        // socket. Both are worked out only if needed (a cookie to set, a suspicious cookie to report).
        secure: () => req.secure ?? Boolean((req.socket as { encrypted?: boolean }).encrypted),
        client: () => req.ip ?? req.socket.remoteAddress,
        adapter: 'express',
      })
      .then((loaded) => {
        attach(req, loaded);
        holdResponse(res, {
          commit: () => manager.commit(loaded),
          apply: (result: CommitResult) => applyHeaders(res, result),
          fail: (err: unknown) => next(err),
        });
        releaseOnClose(manager, loaded, res);
        next();
      }, next);
  } as ExpressSessionMiddleware;
  Object.defineProperty(middleware, 'manager', { value: manager });
  return middleware;
}

/**
 * The session of a request whose prototype carries the `session` accessor: one symbol property.
 * Not a WeakMap entry: the session leads back to its request, and such entries cost the garbage
 * collector more per request than the property costs (docs/decisions.md has the figures).
 */
const SESSION = Symbol('baton-session.session');
type WithSession = { [SESSION]?: unknown };
/** Request prototypes (Express's `app.request`) given the `session` and `sessionID` accessors. */
const extended = new WeakSet<object>();

function readSession(this: WithSession): unknown {
  return this[SESSION];
}

function writeSession(this: WithSession, value: unknown): void {
  this[SESSION] = value;
}

function readSessionId(this: ExpressRequest): string | undefined {
  return this.session?.id;
}

/**
 * Puts the session on the request: `req.session`, and `req.sessionID` as express-session names it
 * (read from `req.session`, so it follows `regenerate()`). On Express both are accessors defined
 * once on the app's request prototype — the object Express offers for extending requests; mounted
 * apps inherit it — with the session itself under one symbol property, so each request gets one
 * property rather than two own accessors. A plain `node:http` request (Node's prototype is never
 * touched), or one that already has its own `session`, gets plain properties.
 */
function attach(req: ExpressRequest, session: Session): void {
  const proto = Object.getPrototypeOf(req) as object | null;
  if (proto !== null && !Object.hasOwn(req, 'session') && (extended.has(proto) || extend(proto))) {
    (req as WithSession)[SESSION] = session;
    return;
  }
  req.session = session;
  Object.defineProperty(req, 'sessionID', { configurable: true, enumerable: true, get: readSessionId });
}

function extend(proto: object): boolean {
  if (
    proto === IncomingMessage.prototype ||
    Object.hasOwn(proto, 'session') ||
    Object.hasOwn(proto, 'sessionID')
  ) {
    return false;
  }
  Object.defineProperty(proto, 'session', {
    configurable: true,
    enumerable: true,
    get: readSession,
    set: writeSession,
  });
  Object.defineProperty(proto, 'sessionID', { configurable: true, enumerable: true, get: readSessionId });
  extended.add(proto);
  return true;
}

export type { SessionOptions };
/** Adds the commit's Set-Cookie and headers to a Node response whose headers are not sent yet. */
export { applyHeaders, SessionManager };
