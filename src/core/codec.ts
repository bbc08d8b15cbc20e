import { SessionDataError } from './errors.js';

/** Deeper values are refused: they are almost always a mistake, and they cost stack on every read. */
export const MAX_DEPTH = 32;
/** Longest top-level key name, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 2048;

/**
 * The JSON text of one top-level session value, or a `SessionDataError` naming the key when JSON
 * cannot carry the value faithfully (what `JSON.parse(text)` gives back would differ).
 */
export function encodeValue(key: string, value: unknown): string {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short keys need no byte count.
  if (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new SessionDataError(key.slice(0, 64), `the key name is longer than ${MAX_KEY_BYTES} bytes`);
  }
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  check(key, value, '', 0, typeof value === 'object' && value !== null ? new Set() : NO_OBJECTS);
  return JSON.stringify(value);
}

/** The `seen` set of a top-level value that is not an object: never added to. */
const NO_OBJECTS: Set<object> = new Set();

/**
 * Sets an own, enumerable property even for the name `__proto__`, which plain assignment and
 * `Object.assign` would treat as the prototype (and so drop the key): session data keys are only
 * ever data. Any other name is assigned (the cheaper of the two, on the read path of every request).
 */
export function putOwn<T>(target: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

export function decodeValue(text: string): unknown {
  return JSON.parse(text);
}

function fail(key: string, path: string, what: string): never {
  const where = path ? ` at ${path}` : '';
  throw new SessionDataError(
    key,
    `${what}${where} cannot be stored as JSON faithfully; store plain data (strings, finite numbers, booleans, null, arrays, plain objects)`,
  );
}

function check(key: string, value: unknown, path: string, depth: number, seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) fail(key, path, `the number ${value}`);
      return;
    case 'bigint':
      fail(key, path, 'a BigInt');
      break;
    case 'function':
      fail(key, path, 'a function');
      break;
    case 'symbol':
      fail(key, path, 'a symbol');
      break;
    case 'undefined':
      fail(key, path, 'undefined');
      break;
    case 'object': {
      if (value === null) return;
      if (depth >= MAX_DEPTH) fail(key, path, `nesting deeper than ${MAX_DEPTH} levels`);
      if (seen.has(value)) fail(key, path, 'a circular reference');
      seen.add(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) fail(key, `${path}[${i}]`, 'an empty array slot');
          check(key, value[i], `${path}[${i}]`, depth + 1, seen);
        }
      } else {
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
          fail(key, path, `a ${name}`);
        }
        if (Object.getOwnPropertySymbols(value).length > 0) fail(key, path, 'an object with symbol keys');
        for (const [k, v] of Object.entries(value)) {
          // JSON drops properties whose value is undefined, as everyone expects of JSON: allowed.
          if (v !== undefined) check(key, v, `${path}.${k}`, depth + 1, seen);
        }
      }
      seen.delete(value);
      return;
    }
  }
}
