/**
 * One session as one Memcached item: a JSON header line (metadata and each data key with the
 * length of its JSON text), a newline, then the JSON texts back to back. The texts are stored
 * as they are, not escaped inside another JSON string, so a session costs its own size plus a
 * small header.
 */
import { putOwn } from '../kit/index.js';
import type { StoredSession } from '../store.js';

export interface SessionRecord {
  session: StoredSession;
  /** Lock token and until when it holds (ms since epoch). */
  lock?: { token: string; until: number };
}

interface Header {
  /** Format of the item, for later changes. */
  f: 1;
  v: number;
  c: number;
  e: number;
  a: number;
  u?: string;
  lk?: string;
  lkx?: number;
  /** [data key, length of its JSON text in UTF-16 code units], in the order of the texts. */
  k: [string, number][];
}

export function encodeRecord(record: SessionRecord): string {
  const s = record.session;
  const entries = Object.entries(s.data);
  const header: Header = {
    f: 1,
    v: s.version,
    c: s.createdAt,
    e: s.expiresAt,
    a: s.absoluteExpiresAt,
    k: entries.map(([k, v]) => [k, v.length]),
  };
  if (s.userId !== undefined) header.u = s.userId;
  if (record.lock) {
    header.lk = record.lock.token;
    header.lkx = record.lock.until;
  }
  // JSON.stringify never writes a raw newline, so the first one ends the header.
  return `${JSON.stringify(header)}\n${entries.map(([, v]) => v).join('')}`;
}

/** The record in an item, or null when the item is not one of ours. */
export function decodeRecord(text: string): SessionRecord | null {
  const end = text.indexOf('\n');
  if (end < 0) return null;
  let header: Header;
  try {
    header = JSON.parse(text.slice(0, end)) as Header;
  } catch {
    return null;
  }
  if (header?.f !== 1 || !Array.isArray(header.k)) return null;
  const data: Record<string, string> = {};
  let at = end + 1;
  for (const [k, length] of header.k) {
    // `__proto__` included: a data key of that name stays data, never a prototype.
    putOwn(data, k, text.slice(at, at + length));
    at += length;
  }
  const session: StoredSession = {
    data,
    createdAt: header.c,
    expiresAt: header.e,
    absoluteExpiresAt: header.a,
    version: header.v,
  };
  if (header.u !== undefined) session.userId = header.u;
  const record: SessionRecord = { session };
  if (header.lk !== undefined && header.lkx !== undefined)
    record.lock = { token: header.lk, until: header.lkx };
  return record;
}

/** Memcached treats an exptime over 30 days (2,592,000 s) as an absolute Unix time, not a duration. */
export const MAX_RELATIVE_EXPTIME = 2_592_000;

/**
 * The exptime to send for an item that should live until `expiresAt` (ms since epoch).
 * Up to 30 days: seconds from now, rounded up (Memcached keeps whole seconds; the read path
 * checks the exact expiry). Beyond 30 days the same number would be read as a Unix time in
 * 1970 and the item would be born expired, so an absolute Unix time is sent instead (this
 * relies on the server's clock agreeing with ours). Already past: -1, expired at once.
 */
export function exptime(expiresAt: number, now: number): number {
  const seconds = Math.ceil((expiresAt - now) / 1000);
  if (seconds <= 0) return -1;
  if (seconds > MAX_RELATIVE_EXPTIME) return Math.ceil(expiresAt / 1000);
  return seconds;
}
