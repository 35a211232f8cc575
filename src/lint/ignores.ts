/**
 * Inline ignores:
 *   -- tandem-ignore <rule>[, <rule>…]: <reason>        the statement the comment is in, precedes,
 *                                                       or ends the line of
 *   -- tandem-ignore-file <rule>[, <rule>…]: <reason>   the whole file
 * `all` (or `*`) stands for every rule. Block comments work too.
 */

export interface IgnoreDirective {
  /** Character offset of the directive in the file. */
  offset: number;
  scope: 'statement' | 'file';
  rules: string[] | 'all';
  reason: string;
}

const MARK = 'tandem-ignore';

export function findIgnoreDirectives(text: string): IgnoreDirective[] {
  const out: IgnoreDirective[] = [];
  let i = text.indexOf(MARK);
  while (i !== -1) {
    const lineStart = text.lastIndexOf('\n', i) + 1;
    const before = text.slice(lineStart, i);
    // Only inside a comment.
    if (before.includes('--') || before.includes('/*')) {
      let lineEnd = text.indexOf('\n', i);
      if (lineEnd === -1) lineEnd = text.length;
      let rest = text.slice(i + MARK.length, lineEnd);
      const closing = rest.indexOf('*/');
      if (closing !== -1) rest = rest.slice(0, closing);
      let scope: IgnoreDirective['scope'] = 'statement';
      if (rest.startsWith('-file')) {
        scope = 'file';
        rest = rest.slice(5);
      }
      if (/^\s/.test(rest) || rest === '') {
        const colon = rest.indexOf(':');
        const list = (colon === -1 ? rest : rest.slice(0, colon)).trim();
        const reason = colon === -1 ? '' : rest.slice(colon + 1).trim();
        const ids = list.split(/[\s,]+/).filter(Boolean);
        out.push({ offset: i, scope, rules: ids.some((r) => r === 'all' || r === '*') ? 'all' : ids, reason });
      }
    }
    i = text.indexOf(MARK, i + MARK.length);
  }
  return out;
}
