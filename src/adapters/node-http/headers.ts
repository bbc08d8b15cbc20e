import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { CommitResult, RequestInfo } from '../../core/manager.js';

/** The first value of a Node request header. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** True when the first `X-Forwarded-Proto` value is https. Read it only behind a proxy you trust. */
export function forwardedHttps(value: string | null | undefined): boolean {
  return value?.split(',')[0]?.trim().toLowerCase() === 'https';
}

/** What the manager needs from a Node request's headers. */
export function nodeRequestInfo(
  headers: IncomingHttpHeaders,
  secure: boolean,
  adapter?: string,
  client?: () => string | undefined,
): RequestInfo {
  const info: RequestInfo = {
    cookie: headerValue(headers.cookie),
    header: (name) => headerValue(headers[name]),
    secure,
  };
  if (adapter !== undefined) info.adapter = adapter;
  if (client !== undefined) info.client = client;
  return info;
}

/** The request came over TLS to this process, or (with `trustProxy`) the proxy in front says https. */
export function nodeSecure(req: IncomingMessage, trustProxy: boolean): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  return trustProxy && forwardedHttps(headerValue(req.headers['x-forwarded-proto']));
}

/** Adds the commit's Set-Cookie and headers to a Node response whose headers are not sent yet. */
export function applyHeaders(res: ServerResponse, result: CommitResult): void {
  if (result.setCookie.length > 0) {
    const existing = res.getHeader('set-cookie');
    const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
    res.setHeader('set-cookie', [...list, ...result.setCookie]);
  }
  for (const [name, value] of Object.entries(result.headers)) res.setHeader(name, value);
}
