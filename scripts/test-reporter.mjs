// Node's spec reporter, except that a `todo` test that fails (a known issue, which does not fail
// the run) is shown as a todo with its reason and the first line of its error, instead of with a
// stack under "failing tests" at the end. A passing run then ends with the summary.
import { Readable } from 'node:stream';
import { spec } from 'node:test/reporters';

function firstLine(error) {
  const cause = error?.cause ?? error;
  const lines = String(cause?.message ?? cause ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  // "Expected values to be strictly deep-equal:" says little without the line after it.
  return lines[0]?.endsWith(':') && lines[1] ? `${lines[0]} ${lines[1]}` : (lines[0] ?? '');
}

async function* knownIssuesAsTodo(source) {
  for await (const event of source) {
    const todo = event.type === 'test:fail' ? event.data.todo : undefined;
    if (todo === undefined || todo === false) {
      yield event;
      continue;
    }
    const { error, ...details } = event.data.details ?? {};
    yield { type: 'test:pass', data: { ...event.data, details } };
    const reason = firstLine(error);
    if (reason !== '') {
      yield {
        type: 'test:diagnostic',
        data: { ...event.data, nesting: event.data.nesting + 1, message: `known to fail: ${reason}` },
      };
    }
  }
}

export default async function* reporter(source) {
  const output = Readable.from(knownIssuesAsTodo(source)).pipe(spec());
  yield* output;
}
