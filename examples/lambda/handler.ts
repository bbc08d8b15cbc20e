// AWS Lambda behind a function URL or an API Gateway HTTP API (both send payload format 2.0), with
// baton-session's Fetch-API adapter. Deploy the built handler with SESSIONS_TABLE and SESSION_SECRET
// set and a role allowed the table's calls (`npx baton iam-policy`); create the table from the
// pipeline (`npx baton create-table`), not at cold start. See docs/deploying.md.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStore } from 'baton-session/dynamodb';
import { createSessions, type RequestSession } from 'baton-session/web';

// Made once per execution environment, outside the handler: warm invocations reuse the client and
// its open keep-alive connection to DynamoDB instead of a new TLS handshake per request.
const store = new DynamoDBStore({
  tableName: process.env.SESSIONS_TABLE ?? 'sessions',
  client: new DynamoDBClient({}),
});
const sessions = createSessions({ store, secret: process.env.SESSION_SECRET ?? '' });

/** The parts of a payload 2.0 event (function URL, HTTP API) this handler reads. */
export interface HttpEvent {
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded: boolean;
  requestContext: { domainName: string; http: { method: string } };
}

export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  cookies: string[];
  body: string;
  isBase64Encoded: false;
}

async function routes(request: Request, session: RequestSession): Promise<Response> {
  const url = new URL(request.url);
  if (request.method === 'POST' && url.pathname === '/basket') {
    const item = ((await request.json().catch(() => undefined)) as { item?: unknown } | undefined)?.item;
    if (typeof item !== 'string') return Response.json({ error: 'send {"item": "..."}' }, { status: 400 });
    session.basket = [...((session.basket as string[] | undefined) ?? []), item];
  }
  return Response.json({ basket: session.basket ?? [] });
}

const app = sessions.withSession(routes);

/** The event as a Fetch `Request`: payload 2.0 carries cookies apart from the other headers. */
function toRequest(event: HttpEvent): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(event.headers))
    if (value !== undefined) headers.set(name, value);
  if (event.cookies?.length) headers.set('cookie', event.cookies.join('; '));
  const method = event.requestContext.http.method;
  const query = event.rawQueryString ? `?${event.rawQueryString}` : '';
  const hasBody = event.body !== undefined && method !== 'GET' && method !== 'HEAD';
  return new Request(`https://${event.requestContext.domainName}${event.rawPath}${query}`, {
    method,
    headers,
    ...(hasBody
      ? { body: Buffer.from(event.body as string, event.isBase64Encoded ? 'base64' : 'utf8') }
      : {}),
  });
}

/** The response as a payload 2.0 result: each Set-Cookie goes in `cookies`, one entry per cookie. */
async function toResult(response: Response): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value;
  });
  return {
    statusCode: response.status,
    headers,
    cookies: response.headers.getSetCookie(),
    body: await response.text(),
    isBase64Encoded: false,
  };
}

export async function handler(event: HttpEvent): Promise<HttpResult> {
  return toResult(await app(toRequest(event)));
}
