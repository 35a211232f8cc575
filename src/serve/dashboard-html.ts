import { readFileSync } from 'node:fs';

/**
 * The dashboard: one static HTML page with its script and styles inline, no build step; it reads
 * `/api/state` and follows `/api/events`. Beside this module in src/ and, copied by the build, in dist/.
 */
export const dashboardHtml = readFileSync(new URL('./dashboard.html', import.meta.url), 'utf8');
