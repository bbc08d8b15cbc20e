/**
 * Input checks the SQL columns add to the kit's: key and user id lengths the columns hold, and
 * U+0000, which PostgreSQL's text and jsonb cannot store. Said by name before the engine errs.
 */
import { InvalidInputError } from '../../core/errors.js';
import { assertKey } from '../kit/index.js';
import type { SqlDialect } from './dialect.js';

/** A key the kit accepts and the key column holds. */
export function assertSqlKey(dialect: SqlDialect, key: string): void {
  assertKey(dialect.name, key);
  assertNoNul(dialect, 'a session key', [key]);
  if (Buffer.byteLength(key) > dialect.maxKeyBytes) {
    throw new InvalidInputError(
      `a session key may be at most ${dialect.maxKeyBytes} bytes, got ${Buffer.byteLength(key)}`,
      { scope: dialect.name },
    );
  }
}

/** A user id (when one is given) the uid column holds. */
export function assertSqlUserId(dialect: SqlDialect, userId: string | null | undefined): void {
  if (typeof userId !== 'string') return;
  assertNoNul(dialect, 'a user id', [userId]);
  if (Buffer.byteLength(userId) > dialect.maxUserIdBytes) {
    throw new InvalidInputError(
      `a user id may be at most ${dialect.maxUserIdBytes} bytes, got ${Buffer.byteLength(userId)}`,
      { scope: dialect.name },
    );
  }
}

/** PostgreSQL text and jsonb cannot hold U+0000: say so before the engine does, by name. */
export function assertNoNul(dialect: SqlDialect, what: string, strings: string[]): void {
  if (!dialect.forbidsNul) return;
  const bad = strings.find((s) => s.includes('\u0000'));
  if (bad !== undefined) {
    throw new InvalidInputError(
      `${what} contains the character U+0000, which ${dialect.engine} cannot store: ${JSON.stringify(bad.slice(0, 40))}`,
      { scope: dialect.name },
    );
  }
}
