// A node:test reporter that writes one JSON line of counts per test file at the end:
// {"file": …, "pass": n, "fail": n, "skip": n, "todo": n, "ms": n}. scripts/test.mjs reads them to
// print the counts per DynamoDB engine. Suites are not counted (as in the spec reporter's "tests");
// `ms` adds up the durations of the file's top-level tests and suites.
export default async function* counts(source) {
  const files = new Map();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const file = event.data.file ?? '(unknown)';
    const c = files.get(file) ?? { file, pass: 0, fail: 0, skip: 0, todo: 0, ms: 0 };
    files.set(file, c);
    if (event.data.nesting === 0) c.ms += event.data.details?.duration_ms ?? 0;
    if (event.data.details?.type === 'suite') continue;
    if (event.data.todo !== undefined && event.data.todo !== false) c.todo++;
    else if (event.data.skip !== undefined && event.data.skip !== false) c.skip++;
    else if (event.type === 'test:pass') c.pass++;
    else c.fail++;
  }
  for (const c of files.values()) yield `${JSON.stringify(c)}\n`;
}
