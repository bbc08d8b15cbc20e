/**
 * A session as one Redis hash, read back: fields `v` version, `c` created, `e` expiry, `a` absolute
 * expiry, `u` user id, `s` size, `lk`/`lkx` lock, and `d:<key>` per top-level data key (see
 * scripts.ts). Pure functions over replies; no I/O.
 */
import type { SessionSummary, StoredSession } from '../../core/store.js';
import { putOwn } from '../kit/index.js';

/** A time for Redis, which takes whole milliseconds (PEXPIREAT refuses fractions). */
export function ms(time: number): string {
  return String(Math.ceil(time));
}

/** Escapes glob characters so a prefix matches only itself in SCAN MATCH. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** HGETALL replies: a flat [field, value, ...] array (RESP2, ioredis) or an object (node-redis v5+). */
export function toFields(reply: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), String(reply[i + 1]));
  } else if (reply instanceof Map) {
    for (const [k, v] of reply) fields.set(String(k), String(v));
  } else if (typeof reply === 'object' && reply !== null) {
    for (const [k, v] of Object.entries(reply)) fields.set(k, String(v));
  }
  return fields;
}

/**
 * The session in an HGETALL reply, or null when it is missing or past its expiry (checked here,
 * not only by Redis). Reads the reply in place, with no intermediate map: this is the read path
 * of every request.
 */
export function liveSession(reply: unknown, now: number): StoredSession | null {
  const fields = new Fields();
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) fields.add(String(reply[i]), String(reply[i + 1]));
  } else if (reply instanceof Map) {
    for (const [k, v] of reply) fields.add(String(k), String(v));
  } else if (typeof reply === 'object' && reply !== null) {
    for (const k in reply) fields.add(k, String((reply as Record<string, unknown>)[k]));
  }
  return build(fields.data, fields.v, fields.c, fields.e, fields.a, fields.u, now);
}

/** The fields of one hash, sorted into metadata and data as they are read. */
class Fields {
  v: string | undefined;
  c: string | undefined;
  e: string | undefined;
  a: string | undefined;
  u: string | undefined;
  readonly data: Record<string, string> = {};

  add(field: string, value: string): void {
    if (field.charCodeAt(0) === 100 /* d */ && field.charCodeAt(1) === 58 /* : */) {
      // defineProperty: a data key named `__proto__` stays data, never a prototype.
      putOwn(this.data, field.slice(2), value);
    } else if (field === 'v') this.v = value;
    else if (field === 'c') this.c = value;
    else if (field === 'e') this.e = value;
    else if (field === 'a') this.a = value;
    else if (field === 'u') this.u = value;
  }
}

function build(
  data: Record<string, string>,
  v: string | undefined,
  c: string | undefined,
  e: string | undefined,
  a: string | undefined,
  u: string | undefined,
  now: number,
): StoredSession | null {
  if (v === undefined || e === undefined || a === undefined) return null;
  const expiresAt = Number(e);
  const absoluteExpiresAt = Number(a);
  if (expiresAt <= now || absoluteExpiresAt <= now) return null;
  const session: StoredSession = {
    data,
    createdAt: Number(c),
    expiresAt,
    absoluteExpiresAt,
    version: Number(v),
  };
  if (u !== undefined) session.userId = u;
  return session;
}

/** The fields `summary` reads, in this order (one HMGET). */
export const SUMMARY_FIELDS = ['v', 'c', 'e', 'a', 'u', 's'] as const;

/** A listing entry from an HMGET of `SUMMARY_FIELDS`, or null when the hash is gone (or expired). */
export function summaryOf(
  key: string,
  reply: (string | null)[],
  now: number,
  includeExpired: boolean,
): SessionSummary | null {
  const [v, c, e, a, u, s] = reply;
  if (v === null || v === undefined || e === null || e === undefined || a === null || a === undefined) {
    return null;
  }
  if (!includeExpired && (Number(e) <= now || Number(a) <= now)) return null;
  const summary: SessionSummary = {
    key,
    createdAt: Number(c),
    expiresAt: Number(e),
    absoluteExpiresAt: Number(a),
    version: Number(v),
    size: Number(s ?? 0),
  };
  if (u !== null && u !== undefined) summary.userId = u;
  return summary;
}
