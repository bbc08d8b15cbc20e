/**
 * The user key: the session data entry whose value indexes a session by user (`listByUser`, log out
 * everywhere). A plain name (`userId`) is a top-level key; a dotted one (`passport.user`) is a path
 * into nested plain objects, as Passport keeps its user. A top-level key spelled with the dots
 * wins over the path, so existing data keyed that way reads as before.
 */

type Data = Record<string, unknown>;

function isPlainObject(value: unknown): value is Data {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The user id a session's data names under `userKey`: a non-empty string, or a safe integer
 * (Passport apps often keep numeric ids) as its decimal text. Undefined for anything else.
 */
export function userIdOf(data: Data, userKey: string): string | undefined {
  let value: unknown = data[userKey];
  if (value === undefined && userKey.includes('.')) {
    value = data;
    for (const part of userKey.split('.')) {
      if (!isPlainObject(value) || !Object.hasOwn(value, part)) return undefined;
      value = value[part];
    }
  }
  if (typeof value === 'string') return value.length > 0 ? value : undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** Records `userId` under `userKey` (creating the nested objects of a dotted key). */
export function setUserId(data: Data, userKey: string, userId: string): void {
  if (!userKey.includes('.') || Object.hasOwn(data, userKey)) {
    data[userKey] = userId;
    return;
  }
  const parts = userKey.split('.');
  const last = parts.pop() as string;
  let target = data;
  for (const part of parts) {
    const next = target[part];
    if (isPlainObject(next)) target = next;
    else {
      const created: Data = {};
      target[part] = created;
      target = created;
    }
  }
  target[last] = userId;
}
