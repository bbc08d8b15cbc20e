import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { SessionManager } from '../../core/manager.js';
import type { SessionOptions } from '../../core/options.js';
import type { Session, SessionData } from '../../core/session.js';
import { nodeRequestInfo } from '../node-http/headers.js';
import { toManager } from '../options.js';

/** `request.session`: data as plain properties plus the session methods. */
export type RequestSession = Session & Partial<SessionData>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The session, loaded in `onRequest` and committed in `onSend`, before the reply leaves. */
    session: RequestSession;
  }
  interface FastifyInstance {
    /** The manager behind the plugin (events, `listByUser`, `destroyUser`). */
    sessionManager: SessionManager;
  }
}

/** The plugin's options: those of `session()`, or a `SessionManager` shared with other adapters. */
export type FastifySessionOptions = SessionOptions | SessionManager;

/**
 * Fastify plugin: `app.register(session, { store, secret })`. It applies to the whole app (it is
 * wrapped with fastify-plugin). Failures reach Fastify's error handler with `statusCode` 503 for the
 * store; a request that ends in an error writes nothing and releases its lock. The protocol for
 * `cookie.secure: 'auto'` is `request.protocol`, which follows Fastify's `trustProxy`.
 */
async function batonSession(app: FastifyInstance, options: FastifySessionOptions): Promise<void> {
  const manager = toManager(options);
  app.decorate('sessionManager', manager);
  app.decorateRequest('session', null as unknown as RequestSession);

  app.addHook('onRequest', async (request: FastifyRequest) => {
    request.session = (await manager.load(
      nodeRequestInfo(request.headers, request.protocol === 'https', 'fastify', () => request.ip),
    )) as RequestSession;
  });

  // The payload is not written yet: the commit lands before any byte of the reply leaves.
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const session = request.session as RequestSession | null;
    if (!session) return payload;
    const result = await manager.commit(session);
    for (const cookie of result.setCookie) reply.header('set-cookie', cookie);
    for (const [name, value] of Object.entries(result.headers)) reply.header(name, value);
    return payload;
  });

  // An error (from a handler, or a failed commit) drops the changes and releases the lock; the error
  // reply that follows passes through onSend with nothing left to commit.
  const abandon = async (request: FastifyRequest) => {
    const session = request.session as RequestSession | null;
    if (session) await manager.abandon(session);
  };
  app.addHook('onError', abandon);
  // Replies that never pass onSend (hijacked, aborted) still release the lock.
  app.addHook('onResponse', abandon);
  app.addHook('onRequestAbort', abandon);
}

export const session: FastifyPluginAsync<FastifySessionOptions> = fp(batonSession, {
  fastify: '5.x',
  name: 'baton-session',
});

export default session;
export type { SessionOptions };
export { SessionManager };
