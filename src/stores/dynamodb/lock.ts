/**
 * `lock`: a small lock item beside the session decides who holds the lock, so a refused attempt
 * costs one write unit instead of the session item's size (a refused conditional write is charged
 * like a write of the item it met: 265 units on a 264 KB session). The holder then writes its
 * token into the session and reads it in one call; `patch` with `lockToken` checks that token,
 * so a holder whose lock expired and was taken can no longer write. Releasing deletes the lock
 * item (one unit); the token left in the session is stale and harmless.
 *
 * The lock item's key is `lock#` and the base64url SHA-256 of the session key: short (a session
 * key may be near DynamoDB's 2 KB key limit) and never a session key the core makes.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { LockHandle } from '../../core/store.js';
import type { Report, Table } from './client.js';
import { ATTR } from './codec.js';
import { lockItemUpdate, sessionLockUpdate } from './expressions.js';
import { ConditionFailed } from './failures.js';
import { decode } from './item.js';
import type { Item } from './transport.js';

/** The key of a session's lock item. */
export function lockKey(key: string): string {
  return `lock#${createHash('sha256').update(key).digest('base64url')}`;
}

/** Locks `key` for `ttlMs` and reads the session; null while another holder has it. */
export async function acquire(
  table: Table,
  key: string,
  ttlMs: number,
  report: Report,
  unlock: (key: string, token: string) => Promise<void>,
): Promise<LockHandle | null> {
  const token = randomUUID();
  const now = table.clock.now();
  const until = now + ttlMs;
  try {
    await table.send(
      'UpdateItem',
      lockItemUpdate(table.layout, table.tableName, table.key(lockKey(key)), token, until, now),
      report,
    );
  } catch (err) {
    if (!(err instanceof ConditionFailed)) throw err;
    // Held by another. The engine charged one unit for the small item; say so where it did not.
    if (!err.charged) report(1);
    return null;
  }
  let item: Item;
  try {
    const out = await table.send(
      'UpdateItem',
      sessionLockUpdate(table.layout, table.tableName, table.key(key), token, until, now),
      report,
    );
    item = out.Attributes as Item;
  } catch (err) {
    await releaseLockItem(table, key, token, report);
    if (!(err instanceof ConditionFailed)) throw err;
    // Missing or expired: nothing is held, and the caller starts a new session.
    return { token, session: null, release: async () => {} };
  }
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await unlock(key, token);
  };
  return { token, session: decode(table.layout, item), release };
}

/** Deletes the lock item if `token` still holds it (not ours any more: nothing to do). */
export async function releaseLockItem(
  table: Table,
  key: string,
  token: string,
  report: Report,
): Promise<void> {
  try {
    await table.send(
      'DeleteItem',
      {
        TableName: table.tableName,
        Key: table.key(lockKey(key)),
        ConditionExpression: '#lk = :token',
        ExpressionAttributeNames: { '#lk': ATTR.lock },
        ExpressionAttributeValues: { ':token': { S: token } },
      },
      report,
    );
  } catch (err) {
    // Expired and taken by another request, or released already.
    if (!(err instanceof ConditionFailed)) throw err;
    if (!err.charged) report(1);
  }
}
