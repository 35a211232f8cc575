import { redactUrl } from '../db/url.js';

const urlPattern = /\b(?:postgres|postgresql|socket|https?):\/\/[^\s'"<>]+/gi;

/**
 * A text with every URL in it reduced to scheme, user, host and path: no password, no query
 * string (where tokens live). For everything Tandem logs or sends to a hook.
 */
export function redactSecrets(text: string): string {
  return text.replace(urlPattern, (url) => redactUrl(url));
}

/** The same for every string inside a JSON-like value. */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redactSecrets(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v)) as T;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, /password|token|secret/i.test(k) ? '[redacted]' : redactDeep(v)])) as T;
  }
  return value;
}
