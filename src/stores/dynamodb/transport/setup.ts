/**
 * What the lean path takes from an AWS SDK v3 `DynamoDBClient`, resolved once per store: the
 * endpoint (found by running the SDK's own endpoint resolution on one command that is stopped
 * before it is sent, so `endpoint`, `AWS_ENDPOINT_URL_DYNAMODB`, FIPS, dual-stack and account-ID
 * endpoints come out as the SDK would send them), the SDK's SigV4 signer bound to the client's
 * credential provider (the default chain or the user's, memoized and refreshed before expiry by
 * the SDK), its retry strategy, and the HTTP agents and request timeout of its request handler.
 */
import { Agent as HttpAgent } from 'node:http';
import { ConfigError } from '../../../core/errors.js';
import { CredentialCache, type Identity } from './credentials.js';
import { type Endpoint, type Exchange, exchangeFor } from './http.js';
import type { RetryStrategy } from './retry.js';
import { loadSdk } from './sdk.js';
import type { SdkV3Client } from './types.js';

/** A request as `@smithy/signature-v4` signs it. */
export interface SignableRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

interface Signer {
  /** `@smithy/signature-v4`'s provider of the identity it signs with. */
  credentialProvider?: () => Promise<Identity>;
  /** `@smithy/signature-v4`: whether it adds and signs `x-amz-content-sha256` (its default: yes). */
  applyChecksum?: boolean;
  sign(
    request: SignableRequest,
    options: { signingDate: Date; signingRegion: string; signingService: string },
  ): Promise<{ headers: Record<string, string> }>;
}

/** The resolved client configuration fields the lean path reads. */
interface SdkConfig {
  region?: () => Promise<string>;
  signer?: (authScheme?: unknown) => Promise<Signer>;
  retryStrategy?: () => Promise<RetryStrategy>;
  requestHandler?: {
    config?: HandlerConfig;
    configProvider?: Promise<HandlerConfig>;
  };
  systemClockOffset?: number;
}

interface HandlerConfig {
  httpAgent?: unknown;
  httpsAgent?: unknown;
  httpAgentProvider?: () => Promise<unknown>;
  requestTimeout?: number;
}

export interface LeanSetup {
  endpoint: Endpoint;
  signer: Signer;
  /**
   * For SigV4 (DynamoDB's scheme): the signer's own credential provider, cached, so that `aws4`
   * signs each request synchronously (the same `Authorization` as the SDK's signer gives, at about
   * a third of its CPU). Undefined: every request is signed by `signer`.
   */
  credentials: CredentialCache | undefined;
  /** Whether requests carry (and sign) `x-amz-content-sha256`, as the client's signer does. */
  payloadHash: boolean;
  signingRegion: string;
  signingService: string;
  strategy: RetryStrategy;
  /** How requests travel: undici's pool, or node:http on the client's agent (http.ts decides). */
  exchange: Exchange;
  /** The client's config object: its `systemClockOffset` is the SDK's clock-skew correction. */
  config: SdkConfig;
}

export async function resolveSetup(client: SdkV3Client): Promise<LeanSetup> {
  const config = client.config as SdkConfig;
  if (typeof config?.signer !== 'function' || typeof config.retryStrategy !== 'function') {
    throw new ConfigError(
      'transport',
      "this DynamoDBClient has no resolved SigV4 signer or retry strategy for the lean path: pass `transport: 'sdk'`",
      { scope: 'dynamodb' },
    );
  }
  const probe = await probeRequest(client);
  const authScheme = probe.authScheme;
  const signingRegion = authScheme?.signingRegion ?? (await config.region?.()) ?? '';
  const signingService = authScheme?.signingName ?? 'dynamodb';
  const signer = await config.signer(authScheme);
  const sigv4 = authScheme === undefined || authScheme.name === undefined || authScheme.name === 'sigv4';
  const provider = signer.credentialProvider;
  const credentials =
    sigv4 && typeof provider === 'function' ? new CredentialCache(() => provider.call(signer)) : undefined;
  const strategy = await config.retryStrategy();
  const handler = config.requestHandler;
  let handlerConfig: HandlerConfig | undefined;
  try {
    handlerConfig = handler?.config ?? (await handler?.configProvider);
  } catch {
    handlerConfig = undefined;
  }
  const agent: unknown =
    probe.endpoint.protocol === 'https:'
      ? handlerConfig?.httpsAgent
      : (handlerConfig?.httpAgent ?? (await handlerConfig?.httpAgentProvider?.().catch(() => undefined)));
  const timeout = handlerConfig?.requestTimeout;
  const exchange = exchangeFor(
    probe.endpoint,
    agent instanceof HttpAgent ? agent : undefined,
    typeof timeout === 'number' && timeout > 0 ? timeout : 0,
  );
  return {
    endpoint: probe.endpoint,
    signer,
    credentials,
    payloadHash: signer.applyChecksum !== false,
    signingRegion,
    signingService,
    strategy,
    exchange,
    config,
  };
}

interface AuthScheme {
  name?: string;
  signingRegion?: string;
  signingName?: string;
}

/**
 * Runs one GetItem through the client up to the SDK's `build` step (endpoint resolved, request
 * serialized, nothing signed or sent) and stops it there. The middleware is on the command, never
 * on the user's client.
 */
async function probeRequest(client: SdkV3Client): Promise<{ endpoint: Endpoint; authScheme?: AuthScheme }> {
  const sdk = await loadSdk();
  const Command = sdk.GetItemCommand as new (
    input: unknown,
  ) => { middlewareStack: { add(middleware: unknown, options: Record<string, unknown>): void } };
  const command = new Command({ TableName: 'baton-endpoint-probe', Key: { id: { S: 'probe' } } });
  let seen: { request: Record<string, any>; context: Record<string, any> } | undefined;
  const stop = new Error('baton: endpoint probe stops here');
  command.middlewareStack.add(
    (_next: unknown, context: Record<string, any>) => async (args: { request: Record<string, any> }) => {
      seen = { request: args.request, context };
      throw stop;
    },
    { step: 'build', priority: 'low', name: 'batonEndpointProbe' },
  );
  try {
    await client.send(command);
  } catch (err) {
    if (seen === undefined) throw err;
  }
  if (seen === undefined) throw new Error('the endpoint probe was not reached');
  const { request, context } = seen;
  const protocol = request.protocol === 'http:' || request.protocol === 'http' ? 'http:' : 'https:';
  const port = typeof request.port === 'number' ? request.port : undefined;
  const defaultPort = protocol === 'https:' ? 443 : 80;
  // node:http takes an IPv6 literal without its URL brackets; the host header keeps them.
  const bracketed = String(request.hostname);
  const hostname = bracketed.replace(/^\[(.*)\]$/, '$1');
  const endpoint: Endpoint = {
    protocol,
    hostname,
    port,
    path: typeof request.path === 'string' && request.path !== '' ? request.path : '/',
    host: port === undefined || port === defaultPort ? bracketed : `${bracketed}:${port}`,
  };
  const schemes = context.endpointV2?.properties?.authSchemes as AuthScheme[] | undefined;
  const authScheme = schemes?.find((s) => s.name === 'sigv4') ?? schemes?.[0];
  return authScheme === undefined ? { endpoint } : { endpoint, authScheme };
}
