/** What node-postgres and PostgreSQL errors mean to the store (see `SqlErrorKind`). */
import { NETWORK_ERROR_CODES } from '../kit/network.js';
import type { SqlErrorKind } from '../sql/dialect.js';

/** SQLSTATE classes and codes that mean the server could not be used. */
const CONNECTION_STATES = new Set(['57P01', '57P02', '57P03', '53300', '53400']);
const CONNECTION_CODES = NETWORK_ERROR_CODES;
/** node-postgres raises these without a code. */
const CONNECTION_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|connection timeout|Client was closed/i;

export function classifyPostgresError(err: unknown): SqlErrorKind {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (code === '55P03') return 'lockTimeout';
  if (code === '40P01') return 'deadlock';
  if (code === '42P01') return 'missingTable';
  if (typeof code === 'string') {
    if (code.startsWith('08') || CONNECTION_STATES.has(code) || CONNECTION_CODES.has(code)) {
      return 'connection';
    }
  }
  if (typeof message === 'string' && CONNECTION_MESSAGES.test(message)) return 'connection';
  return 'other';
}
