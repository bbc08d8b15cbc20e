/** `listByUser`: the user index (a global secondary index on `uid`), then a consistent read of each. */
import type { SessionSummary } from '../../core/store.js';
import { summarize } from '../kit/index.js';
import type { Report, Table } from './client.js';
import { ATTR, str } from './codec.js';
import { noIndex, unavailable, ValidationFailed } from './failures.js';
import { decode, isLive } from './item.js';
import type { ResolvedOptions } from './options.js';
import type { Item, Payload } from './transport.js';

const LIST_READS_IN_FLIGHT = 16;

export async function listUserSessions(
  table: Table,
  options: ResolvedOptions,
  userId: string,
  report: Report,
): Promise<SessionSummary[]> {
  const { userIndex, userIndexName, layout, tableName } = options;
  if (!userIndex) throw noIndex(tableName, userIndexName, ATTR.user);
  const keys: string[] = [];
  let start: Item | undefined;
  do {
    let out: Payload;
    try {
      out = await table.send(
        'Query',
        {
          TableName: tableName,
          IndexName: userIndexName,
          KeyConditionExpression: '#uid = :uid',
          ExpressionAttributeNames: { '#uid': ATTR.user },
          ExpressionAttributeValues: { ':uid': { S: userId } },
          ...(start ? { ExclusiveStartKey: start } : {}),
        },
        report,
        true,
      );
    } catch (err) {
      if (err instanceof ValidationFailed && /index/i.test(err.message)) {
        throw noIndex(tableName, userIndexName, ATTR.user, err);
      }
      if (err instanceof ValidationFailed) throw unavailable(tableName, 'Query', err.cause);
      throw err;
    }
    for (const item of (out.Items ?? []) as Item[]) {
      const key = str(item, layout.hashKey);
      if (key !== undefined) keys.push(key);
    }
    start = out.LastEvaluatedKey as Item | undefined;
  } while (start);
  // The index holds keys only, and lags the table a little: read each session consistently
  // to drop expired, destroyed and re-assigned ones (and to know its size). Users have few sessions.
  const summaries: SessionSummary[] = [];
  for (let i = 0; i < keys.length; i += LIST_READS_IN_FLIGHT) {
    const items = await Promise.all(
      keys.slice(i, i + LIST_READS_IN_FLIGHT).map((key) => table.read(key, report)),
    );
    items.forEach((item, j) => {
      if (isLive(layout, item, table.clock.now()) && str(item, ATTR.user) === userId) {
        summaries.push(summarize(keys[i + j] as string, decode(layout, item)));
      }
    });
  }
  return summaries;
}
