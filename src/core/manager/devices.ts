/**
 * Option `devices`: what the request tells about its device is noted at load, and the session's
 * device entry (last seen now) rides along with the writes the session makes anyway.
 */
import {
  DEVICE_KEY,
  type DeviceInfo,
  describeUserAgent,
  deviceTrack,
  trackDevice,
  truncateIp,
} from '../devices.js';
import { type Session, type SessionState, STATE } from '../session.js';
import type { ManagerCore } from './context.js';
import { seal } from './sealing.js';
import type { RequestInfo } from './types.js';

/** Notes the request's User-Agent and address, and the entry the loaded record held, on the session. */
export function noteDevice(m: ManagerCore, session: Session, request: RequestInfo): void {
  const devices = m.options.devices;
  if (!devices) return;
  const state = session[STATE];
  trackDevice(state, {
    userAgent: devices.userAgent ? (request.header?.('user-agent') ?? undefined) : undefined,
    ip: devices.ip
      ? truncateIp(typeof request.client === 'function' ? request.client() : request.client)
      : undefined,
    stored: state.isNew ? undefined : m.loadedDevices.get(state),
  });
}

/** Adds the session's device entry, last seen `now`, to values about to be written (option `devices`). */
export function deviceInto(
  m: ManagerCore,
  state: SessionState,
  key: string,
  target: Record<string, string>,
  now: number,
): void {
  if (!m.options.devices) return;
  const track = deviceTrack(state);
  if (!track) return;
  const previous = state.isNew ? undefined : track.stored;
  const entry: DeviceInfo = previous
    ? { ...previous, lastSeenAt: now }
    : {
        ...(m.parse && track.userAgent !== undefined
          ? describeUserAgent(m.parse, track.userAgent)
          : { description: 'Unknown device' }),
        createdAt: state.createdAt,
        lastSeenAt: now,
      };
  if (track.ip !== undefined) entry.ip = track.ip;
  track.stored = entry;
  const sealed = seal(m, key, { [DEVICE_KEY]: JSON.stringify(entry) });
  target[DEVICE_KEY] = sealed[DEVICE_KEY] as string;
}
