/**
 * A cookie jar that keeps cookies as a browser does: by name, until their `Max-Age` or `Expires`
 * passes (Max-Age wins when both are given), and sends only the live ones. For tests where a
 * cookie's lifetime matters (rolling sessions, idle timeouts); `Jar` in http.ts ignores it.
 */
import type { Reply } from './http.js';

interface Kept {
  value: string;
  /** ms since epoch; Infinity for a browser-session cookie. */
  expiresAt: number;
}

export class ExpiringJar {
  readonly #cookies = new Map<string, Kept>();

  /** The Cookie header this jar would send now, or undefined when it holds no live cookie. */
  header(now = Date.now()): string | undefined {
    const pairs: string[] = [];
    for (const [name, kept] of this.#cookies) {
      if (kept.expiresAt <= now) this.#cookies.delete(name);
      else pairs.push(`${name}=${kept.value}`);
    }
    return pairs.length > 0 ? pairs.join('; ') : undefined;
  }

  /** When the named cookie expires (ms), or undefined when the jar does not hold it. */
  expiresAt(name: string): number | undefined {
    return this.#cookies.get(name)?.expiresAt;
  }

  /** Takes in the Set-Cookie headers of a response received at `now`. */
  receive(setCookie: string[], now = Date.now()): void {
    for (const line of setCookie) {
      const [pair = '', ...attributes] = line.split(';');
      const at = pair.indexOf('=');
      if (at <= 0) continue;
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      let expiresAt = Number.POSITIVE_INFINITY;
      let maxAgeSeen = false;
      for (const attribute of attributes) {
        const eq = attribute.indexOf('=');
        const key = (eq < 0 ? attribute : attribute.slice(0, eq)).trim().toLowerCase();
        const arg = eq < 0 ? '' : attribute.slice(eq + 1).trim();
        if (key === 'max-age' && /^-?\d+$/.test(arg)) {
          expiresAt = now + Number(arg) * 1000;
          maxAgeSeen = true;
        } else if (key === 'expires' && !maxAgeSeen) {
          const date = Date.parse(arg);
          if (Number.isFinite(date)) expiresAt = date;
        }
      }
      if (expiresAt <= now) this.#cookies.delete(name);
      else this.#cookies.set(name, { value, expiresAt });
    }
  }

  async request(base: string, path: string, init: { method?: string; json?: unknown } = {}): Promise<Reply> {
    const headers: Record<string, string> = {};
    const cookie = this.header();
    if (cookie !== undefined) headers.cookie = cookie;
    if (init.json !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(base + path, {
      method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
      headers,
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    });
    const text = await res.text();
    const setCookie = res.headers.getSetCookie();
    this.receive(setCookie);
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: res.status, body, text, setCookie, headers: res.headers };
  }
}
