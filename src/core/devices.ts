/**
 * Devices (option `devices`): each session records a short description of the browser it was
 * made by, when it was created and when it was last seen, and optionally a truncated IP address,
 * for "your devices" pages. The record lives inside the session's data under a reserved key
 * (`DEVICE_KEY`), so every store keeps it without a column of its own; it is never part of
 * `req.session`. Last-seen moves only with writes the session makes anyway: an unchanged request
 * within `touchAfter` writes nothing, and a touch carries the device entry instead of the bare expiry.
 */
import { isIP } from 'node:net';
import { ConfigError } from './errors.js';

/** The reserved data key holding a session's device entry. */
export const DEVICE_KEY = '__baton_device';

export interface DevicesOptions {
  /** Record the browser and OS parsed from the User-Agent header. @default true */
  userAgent?: boolean;
  /** Record the client's IP address, truncated (IPv4 to /24, IPv6 to /48). @default false */
  ip?: boolean;
}

export interface ResolvedDevices {
  userAgent: boolean;
  ip: boolean;
}

/** What a session records about its device. */
export interface DeviceInfo {
  /** `Firefox 133 on Windows`, `Safari 18 on iOS`, or `Unknown device`. */
  description: string;
  browser?: string;
  os?: string;
  /** `desktop`, `mobile`, `tablet`, ... where the parser can tell. */
  platform?: string;
  /** When the session was created (ms since epoch). */
  createdAt: number;
  /** The last write the session made (ms since epoch): within `touchAfter` of the last request. */
  lastSeenAt: number;
  /** The client's address with its host part zeroed (`203.0.113.0`, `2001:db8:1::`). */
  ip?: string;
}

export function resolveDevices(value: unknown): ResolvedDevices | false {
  if (value === undefined || value === false) return false;
  if (value === true) return { userAgent: true, ip: false };
  if (typeof value !== 'object' || value === null) {
    throw new ConfigError('devices', 'must be true, false or { userAgent?, ip? }');
  }
  const v = value as DevicesOptions;
  for (const field of ['userAgent', 'ip'] as const) {
    if (v[field] !== undefined && typeof v[field] !== 'boolean') {
      throw new ConfigError(`devices.${field}`, `must be true or false, got ${String(v[field])}`);
    }
  }
  return { userAgent: v.userAgent ?? true, ip: v.ip ?? false };
}

type Parse = (ua: string) => {
  browser?: { name?: string; version?: string };
  os?: { name?: string; versionName?: string };
  platform?: { type?: string };
};
let parser: Promise<Parse> | undefined;

/** Loads the User-Agent parser (bowser) once, on first use. */
export function loadParser(): Promise<Parse> {
  parser ??= import('bowser').then((m) => {
    const bowser = (m.default ?? m) as { parse: Parse };
    return (ua: string) => bowser.parse(ua);
  });
  return parser;
}

const MAX_UA = 512;

/** A short description of a User-Agent: browser (major version) and OS. */
export function describeUserAgent(
  parse: Parse,
  ua: string | undefined,
): Pick<DeviceInfo, 'description' | 'browser' | 'os' | 'platform'> {
  if (!ua) return { description: 'Unknown device' };
  let parsed: ReturnType<Parse>;
  try {
    parsed = parse(ua.slice(0, MAX_UA));
  } catch {
    return { description: 'Unknown device' };
  }
  const major = parsed.browser?.version?.split('.')[0];
  const browser = parsed.browser?.name ? `${parsed.browser.name}${major ? ` ${major}` : ''}` : undefined;
  const os = parsed.os?.name;
  const out: Pick<DeviceInfo, 'description' | 'browser' | 'os' | 'platform'> = {
    description: browser && os ? `${browser} on ${os}` : (browser ?? os ?? 'Unknown device'),
  };
  if (browser) out.browser = browser;
  if (os) out.os = os;
  if (parsed.platform?.type) out.platform = parsed.platform.type;
  return out;
}

/** An address with its host part dropped: IPv4 to /24, IPv6 to /48. Undefined when not an address. */
export function truncateIp(address: string | undefined): string | undefined {
  if (!address) return undefined;
  const ip = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  const kind = isIP(ip);
  if (kind === 4) return `${ip.split('.').slice(0, 3).join('.')}.0`;
  if (kind !== 6) return undefined;
  const [head = ''] = ip.split('::');
  const groups = head.split(':').filter(Boolean);
  // Groups after a `::` are never among the first three unless the head is short.
  const full = ip.includes('::') ? groups : ip.split(':');
  return `${full.slice(0, 3).join(':')}::`;
}

/** The device entry as stored (JSON text), or undefined for text that is not one. */
export function parseDevice(text: string | undefined): DeviceInfo | undefined {
  if (text === undefined) return undefined;
  try {
    const d = JSON.parse(text) as DeviceInfo;
    return typeof d === 'object' && d !== null && typeof d.description === 'string' ? d : undefined;
  } catch {
    return undefined;
  }
}

/** What a request tells about its device, kept per session state until the session is written. */
export interface DeviceTrack {
  userAgent: string | undefined;
  ip: string | undefined;
  /** The entry the store had (undefined for a new session or one made before `devices` was on). */
  stored: DeviceInfo | undefined;
}

const tracks = new WeakMap<object, DeviceTrack>();

export function trackDevice(state: object, track: DeviceTrack): void {
  tracks.set(state, track);
}

export function deviceTrack(state: object): DeviceTrack | undefined {
  return tracks.get(state);
}
