/**
 * A user's sessions through the store's user index: listing them (with devices), logging a user
 * out everywhere, and `maxSessionsPerUser`. Needs a store that declares `capabilities.userIndex`.
 */
import { requireCapability } from '../capabilities.js';
import { DEVICE_KEY } from '../devices.js';
import { endMove, isMarkerKey, stampLogout } from '../moves.js';
import { type Session, STATE } from '../session.js';
import type { ManagerCore } from './context.js';
import { openDevice } from './sealing.js';
import type { UserSession } from './types.js';

/**
 * The live sessions of one user. With `devices` on, each carries its `device` (one read per
 * session); `current` marks the session passed as `options.current`.
 */
export async function listByUser(
  m: ManagerCore,
  userId: string,
  options: { current?: Session } = {},
): Promise<UserSession[]> {
  requireCapability(m.store, 'userIndex', 'listByUser()');
  const listed: UserSession[] = await m.call(() => m.store.listByUser!(userId));
  const sessions = listed.filter((s) => !isMarkerKey(s.key));
  const current = options.current?.[STATE];
  if (current && !current.isNew && !current.destroyed) {
    for (const s of sessions) if (s.key === current.key) s.current = true;
  }
  if (m.options.devices) {
    await Promise.all(
      sessions.map(async (s) => {
        const stored = await m.call(() => m.store.get(s.key));
        const device = stored ? openDevice(m, s.key, stored.data[DEVICE_KEY]) : undefined;
        if (device) s.device = device;
      }),
    );
  }
  return sessions;
}

/**
 * Logs a user out everywhere: deletes every session indexed under `userId`, except the session
 * passed as `options.except` ("sign out every other device"). Returns how many were deleted.
 * Without `except`, a logout stamp is written first, so a login for this user already in flight
 * when this is called deletes the session it stores (logout wins).
 */
export async function destroyUser(
  m: ManagerCore,
  userId: string,
  options: { except?: Session } = {},
): Promise<number> {
  requireCapability(m.store, 'userIndex', 'destroyUser()');
  const except = options.except?.[STATE];
  const keep = except && !except.isNew && !except.destroyed ? except.key : undefined;
  if (keep === undefined) {
    await stampLogout(m.store, m.run, m.options.keyPrefix, userId, m.now());
  }
  const sessions = (await listByUser(m, userId)).filter((s) => s.key !== keep);
  const results = await Promise.all(
    sessions.map(async (s) => {
      const existed = await m.call(() => m.store.destroy(s.key));
      // Regenerated while this ran: the session lives on under the key its marker names.
      return existed || (await endMove(m.store, m.run, s.key));
    }),
  );
  m.events.emit('userLoggedOut', { userId, sessions });
  return results.filter(Boolean).length;
}

/**
 * `maxSessionsPerUser`: after a login was written, the user's sessions beyond the limit are
 * deleted, least recently seen first (earliest idle expiry, then creation, then key). Every
 * login runs this after its own write, in the same order, so of two concurrent logins the later
 * lister sees both and both listers pick the same victims: no more than the limit stay.
 */
export async function limitSessions(m: ManagerCore, userId: string): Promise<void> {
  const max = m.options.maxSessionsPerUser;
  if (max === undefined) return;
  const sessions = await m.call(() => m.store.listByUser!(userId));
  if (sessions.length <= max) return;
  sessions.sort(
    (a, b) =>
      a.expiresAt - b.expiresAt || a.createdAt - b.createdAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
  const evicted = sessions.slice(0, sessions.length - max);
  await Promise.all(evicted.map((s) => m.call(() => m.store.destroy(s.key))));
  m.events.emit('evicted', { userId, sessions: evicted });
}
