import type { SqlSource, SqlToken } from './parse.js';

/**
 * Token-level helpers to recover the source text of parts of a statement (expressions, types,
 * the subcommands of an ALTER TABLE): libpg-query gives node start positions, never end positions,
 * so extents are found by walking tokens with parenthesis depth.
 */
export class TokenView {
  constructor(
    readonly source: SqlSource,
    readonly toks: SqlToken[],
  ) {}

  static of(source: SqlSource, start: number, end: number): TokenView {
    return new TokenView(source, source.tokensIn(start, end));
  }

  /** Index of the first token starting at or after a byte offset (toks.length if none). */
  at(offset: number): number {
    const i = this.toks.findIndex((t) => t.start >= offset);
    return i < 0 ? this.toks.length : i;
  }

  /** Text from token i to token j (inclusive), comments between them kept. */
  text(i: number, j: number): string {
    if (j < i || i >= this.toks.length) return '';
    return this.source.slice(this.toks[i]!.start, this.toks[j]!.end);
  }

  isKeyword(i: number, ...words: string[]): boolean {
    const k = this.toks[i]?.keyword;
    return k !== undefined && words.includes(k);
  }

  /** Index of the ")" closing the "(" at i, or -1. */
  matchParen(i: number): number {
    let depth = 0;
    for (let j = i; j < this.toks.length; j++) {
      const t = this.toks[j]!.text;
      if (t === '(' || t === '[') depth++;
      else if (t === ')' || t === ']') {
        depth--;
        if (depth === 0) return j;
      }
    }
    return -1;
  }

  /** First index >= i at parenthesis depth 0 (relative to i) where `pred` holds, or -1. */
  findTop(i: number, pred: (t: SqlToken, j: number) => boolean, end = this.toks.length): number {
    let depth = 0;
    for (let j = i; j < end; j++) {
      const t = this.toks[j]!;
      if (depth === 0 && pred(t, j)) return j;
      if (t.text === '(' || t.text === '[') depth++;
      else if (t.text === ')' || t.text === ']') {
        depth--;
        if (depth < 0) return -1;
      }
    }
    return -1;
  }

  /**
   * The extent of an expression or type starting at token i: it stops before a depth-0 ",", an
   * unbalanced ")", a token starting at or after `boundary`, a depth-0 keyword of `stop`, or `end`.
   * Returns [first, last] token indexes (last < first when empty).
   */
  extent(i: number, opts: { stop?: ReadonlySet<string>; boundary?: number; end?: number } = {}): [number, number] {
    const end = opts.end ?? this.toks.length;
    let depth = 0;
    let j = i;
    for (; j < end; j++) {
      const t = this.toks[j]!;
      if (opts.boundary !== undefined && t.start >= opts.boundary) break;
      if (t.text === '(' || t.text === '[') depth++;
      else if (t.text === ')' || t.text === ']') {
        if (depth === 0) break;
        depth--;
      } else if (depth === 0 && (t.text === ',' || t.text === ';')) break;
      else if (depth === 0 && j > i && t.keyword !== undefined && opts.stop?.has(t.keyword)) break;
    }
    return [i, j - 1];
  }

  /** The text inside the parentheses that start at token i ("(" expected), or undefined. */
  insideParens(i: number): string | undefined {
    if (this.toks[i]?.text !== '(') return undefined;
    const close = this.matchParen(i);
    if (close < 0) return undefined;
    return this.text(i + 1, close - 1);
  }

  /** Split tokens [from, to) at depth-0 commas: [first, last] index pairs. */
  splitTop(from: number, to = this.toks.length): [number, number][] {
    const parts: [number, number][] = [];
    let depth = 0;
    let start = from;
    for (let j = from; j < to; j++) {
      const t = this.toks[j]!.text;
      if (t === '(' || t === '[') depth++;
      else if (t === ')' || t === ']') depth--;
      else if (t === ',' && depth === 0) {
        parts.push([start, j - 1]);
        start = j + 1;
      }
    }
    if (start < to) parts.push([start, to - 1]);
    return parts;
  }

  /** Index just after a (possibly qualified) name starting at token i: a.b.c, then an optional "*". */
  skipQualifiedName(i: number): number {
    let j = i + 1;
    while (this.toks[j]?.text === '.' && j + 1 < this.toks.length) j += 2;
    if (this.toks[j]?.text === '*') j++;
    return j;
  }
}

/** Collapse runs of whitespace (a type written over several lines). */
export function squash(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
