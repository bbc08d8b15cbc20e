/** Shared checks for option values: seconds and booleans, with messages naming the option. */
import { ConfigError } from './errors.js';

export function seconds(option: string, value: unknown, fallback: number, min = 0): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new ConfigError(option, `must be a number of seconds >= ${min}, got ${String(value)}`);
  }
  return v;
}

export function bool(option: string, value: unknown, fallback: boolean): boolean {
  const v = value ?? fallback;
  if (typeof v !== 'boolean') throw new ConfigError(option, `must be true or false, got ${String(value)}`);
  return v;
}
