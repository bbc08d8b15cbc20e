/** What mysql2 and MySQL/MariaDB errors mean to the store (see `SqlErrorKind`). */
import { NETWORK_ERROR_CODES } from '../kit/network.js';
import type { SqlErrorKind } from '../sql/dialect.js';

const CONNECTION_CODES = new Set([
  ...NETWORK_ERROR_CODES,
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_SERVER_SHUTDOWN',
  'ER_NORMAL_SHUTDOWN',
  'ER_CONNECTION_KILLED',
]);
/** mysql2 raises these without a code. */
const CONNECTION_MESSAGES =
  /Pool is closed|Connection lost|connect ETIMEDOUT|Can't add new command when connection is in closed state/i;

export function classifyMySQLError(err: unknown): SqlErrorKind {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (code === 'ER_LOCK_WAIT_TIMEOUT') return 'lockTimeout';
  if (code === 'ER_LOCK_DEADLOCK') return 'deadlock';
  if (code === 'ER_NO_SUCH_TABLE') return 'missingTable';
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return 'connection';
  if (typeof message === 'string' && CONNECTION_MESSAGES.test(message)) return 'connection';
  return 'other';
}
