/**
 * The store URL form, for the CLI and config files:
 *
 *   dynamodb://TABLE?region=eu-west-1
 *   dynamodb://sessions?endpoint=http://127.0.0.1:8000          (a local engine)
 *   dynamodb://sessions?region=eu-west-1&consistentRead=false&userIndex=false&maxAttempts=4
 *   dynamodb://sessions?region=eu-west-1&transport=sdk                 (every call through the SDK's send())
 *
 * Parameters: `region`, `endpoint`, `maxAttempts`, `retryMode`, `timeoutMs` (the client the store
 * builds), `transport` (`lean`, the default, or `sdk`), and the store options `hashKey`, `ttlAttribute`, `dataAttribute`, `consistentRead`,
 * `userIndex`, `userIndexName`, `compressAbove`, `compression`, `scanSegments`. Credentials never
 * go in the URL: the SDK's default chain finds them (env, profile, role); for an endpoint on
 * loopback without AWS credentials in the environment, placeholder ones are used (local engines
 * accept any).
 */
import { ConfigError } from '../../core/errors.js';
import type { DynamoDBStoreOptions } from './options.js';
import type { DynamoDBClientConfig } from './transport.js';

const STRING_OPTIONS = ['hashKey', 'ttlAttribute', 'dataAttribute', 'userIndexName'] as const;
const BOOLEAN_OPTIONS = ['consistentRead', 'userIndex'] as const;
const NUMBER_OPTIONS = ['compressAbove', 'scanSegments'] as const;
const CLIENT_NUMBERS = ['maxAttempts', 'timeoutMs'] as const;
const KNOWN = new Set<string>([
  'region',
  'endpoint',
  'retryMode',
  'compression',
  'transport',
  ...STRING_OPTIONS,
  ...BOOLEAN_OPTIONS,
  ...NUMBER_OPTIONS,
  ...CLIENT_NUMBERS,
]);

/** Store options from a `dynamodb://TABLE?...` URL (the store checks the values themselves). */
export function optionsFromUrl(url: string | URL): DynamoDBStoreOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new ConfigError(
      'url',
      `${JSON.stringify(String(url))} is not a URL; expected dynamodb://TABLE?region=...`,
      {
        scope: 'dynamodb',
        cause: err,
      },
    );
  }
  if (parsed.protocol !== 'dynamodb:') {
    throw new ConfigError('url', `expected a dynamodb:// URL, got ${parsed.protocol}//`, {
      scope: 'dynamodb',
    });
  }
  const tableName = decodeURIComponent(parsed.hostname || parsed.pathname.replace(/^\/+/, ''));
  const params = parsed.searchParams;
  for (const name of params.keys()) {
    if (!KNOWN.has(name)) {
      throw new ConfigError('url', `unknown parameter \`${name}\` (known: ${[...KNOWN].join(', ')})`, {
        scope: 'dynamodb',
      });
    }
  }
  const options: DynamoDBStoreOptions = { tableName };
  for (const name of STRING_OPTIONS) {
    const value = params.get(name);
    if (value !== null) options[name] = value;
  }
  for (const name of BOOLEAN_OPTIONS) {
    const value = params.get(name);
    if (value !== null) options[name] = parseBoolean(name, value);
  }
  for (const name of NUMBER_OPTIONS) {
    const value = params.get(name);
    if (value !== null) options[name] = parseNumber(name, value);
  }
  const transport = params.get('transport');
  if (transport !== null) {
    if (transport !== 'lean' && transport !== 'sdk') {
      throw new ConfigError(
        'url',
        `parameter \`transport\` must be lean or sdk, got ${JSON.stringify(transport)}`,
        {
          scope: 'dynamodb',
        },
      );
    }
    options.transport = transport;
  }
  const compression = params.get('compression');
  if (compression !== null) options.compression = compression as DynamoDBStoreOptions['compression'] & string;

  const clientConfig: DynamoDBClientConfig = {};
  const region = params.get('region');
  const endpoint = params.get('endpoint');
  const retryMode = params.get('retryMode');
  if (region !== null) clientConfig.region = region;
  if (endpoint !== null) clientConfig.endpoint = endpoint;
  if (retryMode !== null) clientConfig.retryMode = retryMode as DynamoDBClientConfig['retryMode'] & string;
  for (const name of CLIENT_NUMBERS) {
    const value = params.get(name);
    if (value !== null) clientConfig[name] = parseNumber(name, value);
  }
  if (endpoint !== null && isLoopback(endpoint)) {
    // Local engines ignore credentials but the SDK wants some; a region too.
    clientConfig.region ??= process.env.AWS_REGION ?? 'us-east-1';
    if (!process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_PROFILE) {
      clientConfig.credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
    }
  }
  options.clientConfig = clientConfig;
  return options;
}

function parseBoolean(name: string, value: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError('url', `parameter \`${name}\` must be true or false, got ${JSON.stringify(value)}`, {
    scope: 'dynamodb',
  });
}

function parseNumber(name: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) {
    throw new ConfigError('url', `parameter \`${name}\` must be a number, got ${JSON.stringify(value)}`, {
      scope: 'dynamodb',
    });
  }
  return n;
}

function isLoopback(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
}
