/**
 * A session item read back: whether it is live, the session it holds, and the size checks a
 * write makes before it is sent.
 */
import { SessionDataError, SessionTooLargeError } from '../../core/errors.js';
import type { StoredSession } from '../../core/store.js';
import { checkSize } from '../kit/index.js';
import { ATTR, decodeData, itemSize, MAX_ITEM_BYTES, num, str } from './codec.js';
import type { Layout } from './options.js';
import type { Item } from './transport.js';

// Map keys are attribute names: at most 64 KB each.
const MAX_KEY_BYTES = 65_535;

/**
 * Live only while every expiry the item carries is in the future: baton's own (`xms`, `abs`)
 * and the TTL attribute (epoch seconds), which operators shorten and other tools write alone.
 * An item needs at least one of `xms` and the TTL attribute. A lock item (`lock.ts`) is never a
 * session. `liveCondition` in expressions.ts is the same test as a condition.
 */
export function isLive(layout: Layout, item: Item | undefined, now: number): item is Item {
  if (item === undefined || item[ATTR.lockItem] !== undefined) return false;
  const abs = num(item, ATTR.absolute);
  if (abs !== undefined && abs <= now) return false;
  const xms = num(item, ATTR.expiresMs);
  if (xms !== undefined && xms <= now) return false;
  // DynamoDB's TTL ignores an attribute that is not a number; so does this test.
  const seconds = num(item, layout.ttl);
  if (seconds !== undefined && seconds * 1000 <= now) return false;
  return xms !== undefined || seconds !== undefined;
}

/** The session an item holds. */
export function decode(layout: Layout, item: Item): StoredSession {
  const xms = num(item, ATTR.expiresMs);
  const seconds = num(item, layout.ttl);
  // The earlier of the two, so the core sees the expiry that applies (a shortened TTL attribute).
  const expiresAt = Math.min(xms ?? Number.POSITIVE_INFINITY, (seconds ?? Number.POSITIVE_INFINITY) * 1000);
  const session: StoredSession = {
    data: decodeData(item[layout.data]),
    createdAt: num(item, ATTR.created) ?? 0,
    expiresAt,
    absoluteExpiresAt: num(item, ATTR.absolute) ?? expiresAt,
    version: num(item, ATTR.version) ?? 0,
  };
  const userId = str(item, ATTR.user);
  if (userId !== undefined) session.userId = userId;
  return session;
}

/** Key names within DynamoDB's limit for names, and the data within `limit` (bytes). */
export function checkData(store: string, data: Record<string, string>, limit: number): void {
  for (const k of Object.keys(data)) {
    if (Buffer.byteLength(k) + 1 > MAX_KEY_BYTES) {
      throw new SessionDataError(k.slice(0, 40), `the key name is over DynamoDB's 64 KB limit for names`, {
        scope: store,
      });
    }
  }
  checkSize(store, data, limit);
}

/** The whole item within DynamoDB's 400 KB. */
export function checkItem(store: string, item: Item): void {
  const size = itemSize(item);
  if (size > MAX_ITEM_BYTES) throw new SessionTooLargeError(size, MAX_ITEM_BYTES, { scope: store });
}
