import type { Callback } from './callback.js';
import { withCallback } from './callback.js';
import { DEVICE_KEY } from './devices.js';
import { SessionDataError } from './errors.js';
import { LOGGED_OUT_KEY, MOVED_KEY } from './moves.js';
import { FORWARD_KEY } from './renewal.js';
import type { LockHandle } from './store.js';
import { setUserId } from './user-key.js';

/** Internal state of a session, out of sight of `Object.keys(session)`. */
export const STATE = Symbol('baton-session.state');

export interface SessionState {
  controller: SessionController;
  id: string;
  key: string;
  /** Not in the store yet. */
  isNew: boolean;
  /** JSON text of each top-level value as the store has it. */
  snapshot: Map<string, string>;
  userId: string | undefined;
  version: number;
  createdAt: number;
  expiresAt: number;
  absoluteExpiresAt: number;
  destroyed: boolean;
  lock: LockHandle | null;
  /** A Set-Cookie is due (new id, re-signing with the current secret, moved expiry). */
  cookieNeeded: boolean;
  /**
   * The cookie or token value the request presented, when it verified under the current secret:
   * the very text `sign(id)` gives, so a response for the same id sends it back without another HMAC.
   */
  presentedToken?: string | undefined;
  /** The request carried a session cookie or token. */
  hadToken: boolean;
  /** The request came over https (for `secure: 'auto'`); a function until first needed. */
  secure: boolean | (() => boolean);
  forceTouch: boolean;
  committed: boolean;
  /** Its commit is under way: a client leaving then changes nothing. */
  committing: boolean;
  /** When the request loaded the session (store clock): a logout stamp after it ends a login made by it. */
  loadedAt: number;
  /** Tokens go back in the response header (header mode): the request spoke by header, or cookies are off. */
  tokenInHeader: boolean;
  /** The move marker this request's `regenerate()` left, checked after the new record is created. */
  moved: string | undefined;
  /** The presented id was moved by a login elsewhere (its marker was seen at load): `destroy()` ends that login. */
  movedFrom: string | undefined;
  /** The changes followed the session to the id a login elsewhere moved it to: the response sets no cookie. */
  followed: boolean;
}

/** What a session asks of its manager. */
export interface SessionController {
  /** The data key that indexes a session by user (`login()` sets it). */
  readonly userKey: string;
  regenerate(session: Session): Promise<void>;
  destroy(session: Session): Promise<void>;
  save(session: Session): Promise<void>;
  reload(session: Session): Promise<void>;
}

// Declared in session-data.ts; the package entry re-exports it, and augmenting it through
// `declare module 'baton-session' { interface SessionData {...} }` merges there.
export type { SessionData } from './session-data.js';

const METHODS = new Set([
  'id',
  'regenerate',
  'destroy',
  'save',
  'reload',
  'touch',
  'login',
  'isNew',
  'cookie',
  // Mark records left by a renewal, a regenerate and a "log out everywhere": never session data.
  FORWARD_KEY,
  MOVED_KEY,
  LOGGED_OUT_KEY,
  // A session's device entry (option `devices`): never session data.
  DEVICE_KEY,
]);

/** True for names a session keeps for itself; they cannot hold data. */
export function isReservedKey(key: string): boolean {
  return METHODS.has(key);
}

function refuse(key: string): never {
  throw new SessionDataError(
    key,
    "is a name the session keeps for itself (id, isNew, cookie, its methods and baton's markers) and cannot hold data; store it under another name",
  );
}

/**
 * A session: plain properties hold the data, as in express-session. The methods return promises
 * and also take a node-style callback.
 */
export class Session {
  declare [STATE]: SessionState;
  [key: string]: unknown;

  constructor(state: SessionState, data: Record<string, unknown>) {
    Object.defineProperty(this, STATE, { value: state, enumerable: false, writable: false });
    Object.assign(this, data);
  }

  /** The session id (the unsigned cookie value). Never what the store sees when `hashIds` is on. */
  get id(): string {
    return this[STATE].id;
  }

  /** True until the session is first stored. */
  get isNew(): boolean {
    return this[STATE].isNew;
  }

  /** Moves the session under a new id, keeping its data; the old id stops working at once. Call it on login. */
  regenerate(callback?: Callback): Promise<void> {
    return withCallback(this[STATE].controller.regenerate(this), callback);
  }

  /** Deletes the session from the store now; the response clears the cookie. */
  destroy(callback?: Callback): Promise<void> {
    return withCallback(this[STATE].controller.destroy(this), callback);
  }

  /** Writes the changes now instead of at the end of the request. */
  save(callback?: Callback): Promise<void> {
    return withCallback(this[STATE].controller.save(this), callback);
  }

  /** Reads the session again from the store, dropping unsaved changes. */
  reload(callback?: Callback): Promise<void> {
    return withCallback(this[STATE].controller.reload(this), callback);
  }

  /** Moves the expiry at the end of this request even if nothing changed. */
  touch(callback?: Callback): Promise<void> {
    this[STATE].forceTouch = true;
    return withCallback(Promise.resolve(), callback);
  }

  /**
   * Logs a user in: `regenerate()` (against session fixation), then records the user under
   * `userKey` so `listByUser` and "log out everywhere" find the session.
   */
  async login(userId: string, callback?: Callback): Promise<void> {
    const { userKey } = this[STATE].controller;
    return withCallback(
      this.regenerate().then(() => {
        setUserId(this, userKey, userId);
      }),
      callback,
    );
  }
}

// Reserved names refuse assignment with a SessionDataError naming the key, instead of shadowing a
// method or failing later; `__proto__` is an ordinary data key, never the object's prototype.
for (const name of METHODS) {
  const existing = Object.getOwnPropertyDescriptor(Session.prototype, name);
  const get = existing?.get ?? (existing ? () => existing.value : () => undefined);
  Object.defineProperty(Session.prototype, name, {
    get,
    set() {
      refuse(name);
    },
    enumerable: false,
    configurable: true,
  });
}
Object.defineProperty(Session.prototype, '__proto__', {
  get: () => undefined,
  set(this: Session, value: unknown) {
    Object.defineProperty(this, '__proto__', { value, enumerable: true, writable: true, configurable: true });
  },
  enumerable: false,
  configurable: true,
});
