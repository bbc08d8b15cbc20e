/**
 * What the benchmark apps share: incompressible payloads and the session routes every session
 * scenario serves (`POST /seed?bytes=N`, `GET /read`, `POST /write`), whichever middleware
 * (baton, express-session) put `req.session` there.
 */
import { randomBytes } from 'node:crypto';
import type express from 'express';
import type { Request } from 'express';

export type Session = Record<string, unknown>;

export const sessionOf = (req: Request): Session => (req as unknown as { session: Session }).session;

/** Random text (incompressible, like ids and tokens): session sizes are what they say. */
export function payload(bytes: number): string {
  return randomBytes(Math.ceil((bytes * 3) / 4))
    .toString('base64')
    .slice(0, bytes);
}

/** `/seed` (a new session of `defaultBytes` unless `?bytes=` says), `/read` (unchanged), `/write` (one key). */
export function seedReadWriteRoutes(app: express.Express, defaultBytes: number): void {
  app.post('/seed', (req, res) => {
    const s = sessionOf(req);
    s.user = 'bench-user';
    s.n = 0;
    s.payload = payload(Number(req.query.bytes ?? defaultBytes));
    res.json({ ok: true });
  });
  app.get('/read', (req, res) => {
    const s = sessionOf(req);
    res.json({ user: s.user ?? null, n: s.n ?? null });
  });
  app.post('/write', (req, res) => {
    const s = sessionOf(req);
    s.n = Number(s.n ?? 0) + 1;
    res.json({ n: s.n });
  });
}
