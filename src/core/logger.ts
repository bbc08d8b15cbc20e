/**
 * The `logger` option: a pino-compatible object (pino, bunyan-style child loggers, or anything
 * with `warn`, `error` and `debug` taking `(fields, message)`). Without one, warnings go to
 * `process.emitWarning` as before. Nothing logged carries a session id, cookie, store key or data.
 */
export interface Logger {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

/** Structured fields of a baton log line. */
export interface LogFields {
  /** A stable code such as `BATON_CLOCK_SKEW` or `BATON_STORE_UNAVAILABLE`. */
  code: string;
  /** Where it comes from: `manager`, `dynamodb`, `redis`... */
  scope: string;
}

/** A warning to `logger.warn`, or to `process.emitWarning` when there is no logger. */
export function warn(logger: Logger | undefined, fields: LogFields, message: string): void {
  if (logger) logger.warn({ ...fields }, message);
  else process.emitWarning(message, { code: fields.code });
}

/** True for an object with the three methods a `logger` needs. */
export function isLogger(value: unknown): value is Logger {
  const l = value as Partial<Logger> | null;
  return (
    typeof l === 'object' &&
    l !== null &&
    typeof l.warn === 'function' &&
    typeof l.error === 'function' &&
    typeof l.debug === 'function'
  );
}
