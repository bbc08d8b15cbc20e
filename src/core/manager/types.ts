import type { DeviceInfo } from '../devices.js';
import type { SessionSummary } from '../store.js';

/** What an adapter tells the manager about a request. */
export interface RequestInfo {
  /** The Cookie header. */
  cookie?: string | null | undefined;
  /** Reads a request header by lower-case name (for the `header` option). */
  header?: (name: string) => string | null | undefined;
  /**
   * The request came over https, directly or through a trusted proxy. A function is called only
   * when a cookie is about to be set (for `secure: 'auto'`), so it may be costly to work out.
   */
  secure?: boolean | (() => boolean);
  /**
   * The client's address, reported with `suspicious` events (guessing detection). A function is
   * called only when such an event fires.
   */
  client?: string | undefined | (() => string | undefined);
  /** The adapter serving the request (`express`, `fastify`, ...), named in tracing channels. */
  adapter?: string;
}

/** What an adapter adds to the response after `commit`. */
export interface CommitResult {
  /** Set-Cookie header values. */
  setCookie: string[];
  /** Other headers: `cache-control: no-store` whenever a cookie is set, `x-session-token` in header mode. */
  headers: Record<string, string>;
}

/** A session of a user as `listByUser` reports it: its summary, and its device when `devices` is on. */
export interface UserSession extends SessionSummary {
  device?: DeviceInfo;
  /** The session passed as `current`. */
  current?: boolean;
}
