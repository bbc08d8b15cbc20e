import type { CommitResult, RequestInfo, SessionManager } from '../../core/manager.js';
import type { Session } from '../../core/session.js';
import { forwardedHttps } from '../node-http/headers.js';

/** The request came over https: its URL says so, or (with `trustProxy`) the proxy in front does. */
export function fetchSecure(request: Request, trustProxy: boolean): boolean {
  if (request.url.startsWith('https:')) return true;
  return trustProxy && forwardedHttps(request.headers.get('x-forwarded-proto'));
}

/** What the manager needs from a Fetch-API request. */
export function fetchRequestInfo(request: Request, trustProxy: boolean, adapter?: string): RequestInfo {
  const info: RequestInfo = {
    cookie: request.headers.get('cookie'),
    header: (name) => request.headers.get(name),
    secure: fetchSecure(request, trustProxy),
  };
  if (adapter !== undefined) info.adapter = adapter;
  return info;
}

/** Appends the commit's Set-Cookie values and sets its other headers. */
export function appendHeaders(headers: Headers, result: CommitResult): void {
  for (const cookie of result.setCookie) headers.append('set-cookie', cookie);
  for (const [name, value] of Object.entries(result.headers)) headers.set(name, value);
}

/**
 * In `'lock'` mode, gives the session's lock up as soon as the request is aborted (the client went
 * away), so a handler that never answers holds nobody up until `lockTtl`. Once the response is
 * committed an abort changes nothing.
 */
export function releaseOnAbort(manager: SessionManager, session: Session, request: Request): void {
  if (manager.options.concurrency !== 'lock') return;
  const signal = request.signal;
  if (signal.aborted) {
    void manager.clientGone(session);
    return;
  }
  signal.addEventListener('abort', () => void manager.clientGone(session), { once: true });
}
