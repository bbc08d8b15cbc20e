/**
 * `Patch.expect` in the MySQL/MariaDB patch statement: the named keys still hold what the request
 * read at load. `data` keeps each value as a JSON *string* (the core's exact text), so "holds this
 * text" is JSON_CONTAINS of a one-member object, compared as JSON strings: byte for byte on
 * MariaDB (which keeps the text as sent: JSON_MERGE_PATCH copies members verbatim, and both our
 * writes and this candidate escape with JSON.stringify), by value on MySQL 8's binary JSON. No JSON
 * path is built, so no key needs escaping (see the merge patch in mysql-dialect.ts).
 */
import type { Params } from '../sql/rows.js';
import { objectText } from './json-text.js';

/** The guards for `expect` (none when it names no key): one for the keys expected present, one for those expected absent. */
export function expectGuards(p: Params, expect: Record<string, string | null>): string[] {
  const present: [string, string][] = [];
  const absent: string[] = [];
  for (const [k, v] of Object.entries(expect)) {
    if (v === null) absent.push(k);
    else present.push([k, v]);
  }
  const guards: string[] = [];
  // A candidate object is contained when each of its members is in `data` with an equal value.
  if (present.length > 0) guards.push(`JSON_CONTAINS(\`data\`, ${p.add(objectText(present))})`);
  if (absent.length > 0) {
    // None of them present: removing them all (a merge patch of nulls) leaves as many members.
    // (JSON_OVERLAPS would say it directly, but MariaDB has it only from 10.9 and MySQL from 8.0.17.)
    const removal = objectText(absent.map((k): [string, null] => [k, null]));
    guards.push(`JSON_LENGTH(JSON_MERGE_PATCH(\`data\`, ${p.add(removal)})) = JSON_LENGTH(\`data\`)`);
  }
  return guards;
}
