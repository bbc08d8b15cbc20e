/**
 * What the parts of the session manager share (src/core/manager/*): one object the
 * `SessionManager` builds in its constructor and hands to each part. Internal: not exported
 * from the package.
 */
import type { EventEmitter } from 'node:events';
import type { DeviceInfo, loadParser } from '../devices.js';
import type { SessionEvents } from '../events.js';
import type { Adoption } from '../legacy.js';
import type { StoreCall } from '../moves.js';
import type { ResolvedOptions } from '../options.js';
import type { SessionController, SessionState } from '../session.js';
import type { Store, StoreClock } from '../store.js';
import type { StoreCaller } from '../store-call.js';
import type { Locks } from './locks.js';
import type { Verifier } from './verify.js';

export interface ManagerCore {
  readonly options: ResolvedOptions;
  readonly store: Store;
  /** The manager: controller of the sessions it makes. */
  readonly controller: SessionController;
  /** The manager: where events go. */
  readonly events: EventEmitter<SessionEvents>;
  /** The store's clock, when it has one: expiry is decided by the clock every instance shares. */
  readonly clock: StoreClock | undefined;
  /** Now, by the store's clock (the local one for stores without a clock of their own). */
  now(): number;
  /** The key the store sees for a session id. */
  keyFor(id: string): string;
  /** Every store call: bounded by `timeoutMs`, failures typed and reported (src/core/store-call.ts). */
  readonly call: StoreCaller['call'];
  /** Store calls made by the logout-wins helpers, bounded and mapped like every other. */
  readonly run: StoreCall;
  /** `'lock'` mode: lock acquisition with backoff, and this process's turns (locks.ts). */
  readonly locks: Locks;
  /** Cookie and token verification, with guessing detection (verify.ts). */
  readonly verifier: Verifier;
  /** The device entry each loaded session's record held, until `load` files it with the request's. */
  readonly loadedDevices: WeakMap<SessionState, DeviceInfo>;
  /** The User-Agent parser, once loaded (option `devices`). */
  parse: Awaited<ReturnType<typeof loadParser>> | undefined;
  /** Option `legacy`: adopts express-session's sessions (src/core/legacy.ts). */
  adoption: Adoption | undefined;
}

/** A request's changes since load (or the last save). */
export interface Changes {
  set: Record<string, string>;
  unset: string[];
  /** Every key's JSON text after this commit. */
  next: Map<string, string>;
  userId: string | undefined;
}
