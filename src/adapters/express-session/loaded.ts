/**
 * What an `ExpressSessionStore` keeps beside an express-session session: the record as this request
 * loaded it (the per-key base of its next write), and the JSON form its values are stored in.
 */
import { SessionDataError } from '../../core/errors.js';

type Data = Record<string, unknown>;

/** What this request loaded: the per-key base of its next write. Hidden from express-session. */
export const LOADED = Symbol('baton-session.loaded');

export interface Loaded {
  data: Record<string, string>;
  /** The expiry the store holds (ms): a touch that would move it by no more than the throttle is skipped. */
  expiresAt: number;
  absoluteExpiresAt: number;
  userId: string | undefined;
}

export type WithLoaded = Data & { [LOADED]?: Loaded };

/** Each top-level value's JSON text, as express-session's own stores serialize (`toJSON` honoured). */
export function encode(session: Data): Record<string, string> {
  const data: Record<string, string> = {};
  for (const key of Object.keys(session)) {
    let text: string | undefined;
    try {
      text = JSON.stringify(session[key]);
    } catch (err) {
      throw new SessionDataError(key, `cannot be written as JSON: ${(err as Error).message}`, { cause: err });
    }
    if (text !== undefined) data[key] = text;
  }
  return data;
}

export function remember(target: object, loaded: Loaded): void {
  Object.defineProperty(target, LOADED, {
    value: loaded,
    configurable: true,
    enumerable: false,
    writable: true,
  });
}
