import { ConfigError } from '../core/errors.js';
import { SessionManager } from '../core/manager.js';
import type { SessionOptions } from '../core/options.js';

/** For adapters that see the raw request (web, hono, node-http) and so must be told about a proxy. */
export interface ProxyOptions {
  /**
   * Believe the `X-Forwarded-Proto` header when deciding whether the request came over https
   * (`cookie.secure: 'auto'`). Turn it on only behind a proxy that sets the header itself.
   * @default false
   */
  trustProxy?: boolean;
}

/** Session options plus `trustProxy`, for the adapters that take it. */
export interface ProxySessionOptions extends SessionOptions, ProxyOptions {}

/** Every adapter takes options or a `SessionManager` shared with other adapters. */
export function toManager(options: SessionOptions | SessionManager): SessionManager {
  return options instanceof SessionManager ? options : new SessionManager(options);
}

/** `trustProxy` from the second argument, or from the options object. */
export function resolveTrustProxy(
  options: ProxySessionOptions | SessionManager,
  adapterOptions: ProxyOptions,
): boolean {
  if (typeof adapterOptions !== 'object' || adapterOptions === null) {
    throw new ConfigError('adapter options', 'pass an object such as `{ trustProxy: true }`');
  }
  const value =
    adapterOptions.trustProxy ??
    (options instanceof SessionManager ? undefined : options.trustProxy) ??
    false;
  if (typeof value !== 'boolean') {
    throw new ConfigError('trustProxy', `must be true or false, got ${String(value)}`);
  }
  return value;
}
