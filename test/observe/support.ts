import { createServer } from 'node:net';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/** A port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Scrape {
  raw: string;
  /** family name → samples (labels and value), as parsed by a Prometheus text-format parser. */
  families: Map<string, { type: string; samples: { labels: Record<string, string>; value: number }[] }>;
}

/** GET a metrics endpoint and parse it with a real text-format parser (which throws on malformed text). */
export async function scrape(url: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await fetch(url, { headers });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const raw = await res.text();
  const families = new Map<string, { type: string; samples: { labels: Record<string, string>; value: number }[] }>();
  for (const f of parsePrometheusTextFormat(raw)) {
    families.set(f.name, { type: f.type, samples: f.metrics.map((m) => ({ labels: m.labels ?? {}, value: Number(m.value ?? m.count ?? m.buckets?.['+Inf'] ?? NaN) })) });
  }
  return { raw, families };
}

/** The value of one sample whose labels include `labels`, or undefined. */
export function sample(s: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  return s.families.get(name)?.samples.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value;
}
