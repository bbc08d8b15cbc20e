/** JSON text the MySQL/MariaDB statements send. */

/**
 * A JSON object text from entries, built by hand so that no key (not even `__proto__`) is
 * special. With `null` values it is an RFC 7396 merge patch that deletes those members.
 */
export function objectText(entries: Iterable<[string, string | null]>): string {
  const parts: string[] = [];
  for (const [k, v] of entries) parts.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
  return `{${parts.join(',')}}`;
}
