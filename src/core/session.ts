import type { LockHandle } from '../stores/store.js';
import type { Callback } from './callback.js';
import { withCallback } from './callback.js';
import { FORWARD_KEY } from './renewal.js';
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
  /** The request carried a session cookie or token. */
  hadToken: boolean;
  /** The request came over https (for `secure: 'auto'`); a function until first needed. */
  secure: boolean | (() => boolean);
  forceTouch: boolean;
  committed: boolean;
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

// Declared in the package entry so that `declare module 'baton-session' { interface SessionData {...} }` merges.
export type { SessionData } from '../index.js';

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
  // Marks a forwarding record left by a renewal: never session data.
  FORWARD_KEY,
]);

/** True for names a session keeps for itself; they cannot hold data. */
export function isReservedKey(key: string): boolean {
  return METHODS.has(key);
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
