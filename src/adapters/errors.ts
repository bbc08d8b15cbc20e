import { STATUS_CODES } from 'node:http';

/** The HTTP status an error asks for (`status` or `statusCode`, 400–599), else 500. */
export function errorStatus(err: unknown): number {
  const e = err as { status?: unknown; statusCode?: unknown } | null;
  const status = e?.status ?? e?.statusCode;
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599
    ? status
    : 500;
}

/**
 * The JSON body of an error response made by an adapter that has no framework error handler
 * (web, node-http). The message is shown only for 4xx errors; a 5xx shows the status text, so
 * store addresses never reach clients. `code` (e.g. `BATON_STORE_UNAVAILABLE`) is always safe.
 */
export function errorBody(err: unknown, status: number): { error: string; code?: string } {
  const e = err as { code?: unknown; message?: unknown; expose?: unknown } | null;
  const exposed = status < 500 && typeof e?.message === 'string';
  const body: { error: string; code?: string } = {
    error: exposed ? (e.message as string) : (STATUS_CODES[status] ?? 'Error'),
  };
  if (typeof e?.code === 'string' && e.code.startsWith('BATON_')) body.code = e.code;
  return body;
}
