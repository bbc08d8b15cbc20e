/**
 * Legacy sources from URLs, for `baton migrate --from`:
 *   connect-redis://HOST:6379/DB?prefix=sess:                (node-redis)
 *   connect-dynamodb://TABLE?region=..&endpoint=..&prefix=sess:&hashKey=id
 *   dynamodb-store://TABLE?region=..&endpoint=..&prefix=sess:&hashKey=sessionId
 *   connect-pg-simple://USER:PASS@HOST:5432/DB?table=session&schema=public
 *   express-mysql-session://USER:PASS@HOST:3306/DB?table=sessions
 * Each opens its own client (the engine's package must be installed) and closes it on `close()`.
 */
import { ConfigError } from '../core/errors.js';
import type { LegacySource } from '../core/legacy.js';
import { redactUrl } from '../stores/url.js';

export const LEGACY_SCHEMES = [
  'connect-redis',
  'connect-dynamodb',
  'dynamodb-store',
  'connect-pg-simple',
  'express-mysql-session',
] as const;

export function isLegacyUrl(url: string): boolean {
  return LEGACY_SCHEMES.some((s) => url.startsWith(`${s}://`));
}

export interface OpenedSource {
  source: LegacySource;
  /** True when the source reads DynamoDB (the migration is then rate-limited by default). */
  dynamodb: boolean;
  close(): Promise<void>;
}

function only(url: string, params: URLSearchParams, allowed: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of params) {
    if (!allowed.includes(name)) {
      throw new ConfigError(
        'from',
        `${redactUrl(url)}: unknown parameter \`${name}\` (accepted: ${allowed.join(', ')})`,
      );
    }
    out[name] = value;
  }
  return out;
}

async function load<T>(name: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (err) {
    throw new ConfigError('from', `reading this source needs the \`${name}\` package: npm install ${name}`, {
      cause: err,
    });
  }
}

export async function openLegacySource(url: string): Promise<OpenedSource> {
  const scheme = LEGACY_SCHEMES.find((s) => url.startsWith(`${s}://`));
  if (!scheme) {
    throw new ConfigError(
      'from',
      `${redactUrl(url)} is not a legacy URL (schemes: ${LEGACY_SCHEMES.join(', ')})`,
    );
  }
  // Parsed as http(s) so host, port, credentials and path come apart the usual way.
  const parsed = new URL(`http://${url.slice(scheme.length + 3)}`);
  const params = parsed.searchParams;
  switch (scheme) {
    case 'connect-redis': {
      const { prefix } = only(url, params, ['prefix']);
      const { createClient } = await load('redis', () => import('redis'));
      const auth = parsed.username ? `${parsed.username}:${parsed.password}@` : '';
      const client = createClient({ url: `redis://${auth}${parsed.host}${parsed.pathname}` });
      await client.connect();
      const { connectRedis } = await import('./redis.js');
      return {
        source: connectRedis({ client, ...(prefix === undefined ? {} : { prefix }) }),
        dynamodb: false,
        close: async () => void (await client.close()),
      };
    }
    case 'connect-dynamodb':
    case 'dynamodb-store': {
      const { region, endpoint, prefix, hashKey } = only(url, params, [
        'region',
        'endpoint',
        'prefix',
        'hashKey',
      ]);
      const { createSdkV3Client } = await import('../stores/dynamodb/transport.js');
      const client = await createSdkV3Client({
        ...(region === undefined ? {} : { region }),
        ...(endpoint === undefined ? {} : { endpoint }),
      });
      const table = decodeURIComponent(parsed.host);
      const { connectDynamoDB, dynamodbStore } = await import('./dynamodb.js');
      const options = {
        client,
        table,
        ...(prefix === undefined ? {} : { prefix }),
        ...(hashKey === undefined ? {} : { hashKey }),
      };
      return {
        source: scheme === 'connect-dynamodb' ? connectDynamoDB(options) : dynamodbStore(options),
        dynamodb: true,
        close: async () => client.destroy(),
      };
    }
    case 'connect-pg-simple': {
      const { table, schema } = only(url, params, ['table', 'schema']);
      const pg = await load('pg', () => import('pg'));
      params.delete('table');
      params.delete('schema');
      const pool = new pg.default.Pool({
        connectionString: `postgres://${url.slice(scheme.length + 3).split('?')[0]}`,
        max: 4,
      });
      const { connectPgSimple } = await import('./sql.js');
      return {
        source: connectPgSimple({
          pool,
          ...(table === undefined ? {} : { table }),
          ...(schema === undefined ? {} : { schema }),
        }),
        dynamodb: false,
        close: () => pool.end(),
      };
    }
    case 'express-mysql-session': {
      const { table } = only(url, params, ['table']);
      const mysql = await load('mysql2', () => import('mysql2/promise'));
      const pool = mysql.createPool({
        uri: `mysql://${url.slice(scheme.length + 3).split('?')[0]}`,
        connectionLimit: 4,
      });
      const { expressMysqlSession } = await import('./sql.js');
      return {
        source: expressMysqlSession({ pool, ...(table === undefined ? {} : { table }) }),
        dynamodb: false,
        close: () => pool.end(),
      };
    }
  }
}
