import { randomBytes, timingSafeEqual } from 'node:crypto';

/** A token for `tandem serve` when none is given: 24 random bytes, URL-safe. */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Whether a request carries the token, as `Authorization: Bearer <token>` or `?token=<token>` (compared in constant time). */
export function carriesToken(token: string, authorization: string | undefined, queryToken: string | undefined): boolean {
  const given = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length).trim() : queryToken;
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
