/**
 * Parsing a SQL file with the real PostgreSQL parser (libpg-query, WASM) and mapping its byte
 * offsets to characters, lines and columns.
 */
import type { Node, ParseResult } from 'libpg-query';
import { kindOf, type NodeKind } from './ast.js';

type LibPgQuery = typeof import('libpg-query');

let loading: Promise<LibPgQuery> | undefined;

/** Loads the WASM parser once per process. */
export function loadParser(): Promise<LibPgQuery> {
  loading ??= (async () => {
    const mod = await import('libpg-query');
    await mod.loadModule();
    return mod;
  })();
  return loading;
}

/** The text of a file, addressable by the byte offsets the parser reports. */
export class SourceText {
  /** Byte offset → character offset (undefined when the text is ASCII: they are equal). */
  private readonly byteToChar: Int32Array | undefined;
  private lineStarts: number[] | undefined;
  readonly byteLength: number;

  constructor(readonly text: string) {
    this.byteLength = Buffer.byteLength(text, 'utf8');
    if (this.byteLength === text.length) {
      this.byteToChar = undefined;
    } else {
      const map = new Int32Array(this.byteLength + 1);
      let b = 0;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        let n: number;
        if (c < 0x80) n = 1;
        else if (c < 0x800) n = 2;
        else if (c >= 0xd800 && c <= 0xdbff) {
          // Surrogate pair: 4 bytes for 2 UTF-16 units.
          for (let k = 0; k < 4; k++) map[b + k] = i;
          b += 4;
          i++;
          continue;
        } else n = 3;
        for (let k = 0; k < n; k++) map[b + k] = i;
        b += n;
      }
      map[this.byteLength] = text.length;
      this.byteToChar = map;
    }
  }

  charAt(byteOffset: number): number {
    const b = Math.max(0, Math.min(byteOffset, this.byteLength));
    return this.byteToChar ? this.byteToChar[b]! : b;
  }

  sliceBytes(start: number, end: number): string {
    return this.text.slice(this.charAt(start), this.charAt(end));
  }

  private starts(): number[] {
    if (!this.lineStarts) {
      const s = [0];
      const t = this.text;
      let i = t.indexOf('\n');
      while (i !== -1) {
        s.push(i + 1);
        i = t.indexOf('\n', i + 1);
      }
      this.lineStarts = s;
    }
    return this.lineStarts;
  }

  /** 1-based line and column of a character offset. */
  position(charOffset: number): { line: number; column: number } {
    const s = this.starts();
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]! <= charOffset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: charOffset - s[lo]! + 1 };
  }

  positionOfByte(byteOffset: number): { line: number; column: number } {
    return this.position(this.charAt(byteOffset));
  }

  /** The text of a 1-based line, without its newline. */
  line(n: number): string {
    const s = this.starts();
    if (n < 1 || n > s.length) return '';
    const start = s[n - 1]!;
    const end = n < s.length ? s[n]! - 1 : this.text.length;
    return this.text.slice(start, end).replace(/\r$/, '');
  }

  get lineCount(): number {
    return this.starts().length;
  }
}

export interface ParsedStatement {
  node: Node;
  kind: NodeKind;
  /** Byte offsets: first character of the statement, and just past its last (before the `;`). */
  start: number;
  end: number;
}

export type ParseOutcome = { ok: true; statements: ParsedStatement[] } | { ok: false; message: string; charOffset: number };

/** Skips whitespace and comments from a character offset. */
function skipTrivia(text: string, i: number): number {
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text.startsWith('--', i)) {
      const nl = text.indexOf('\n', i);
      i = nl === -1 ? text.length : nl + 1;
    } else if (text.startsWith('/*', i)) {
      let depth = 1;
      i += 2;
      while (i < text.length && depth > 0) {
        if (text.startsWith('/*', i)) {
          depth++;
          i += 2;
        } else if (text.startsWith('*/', i)) {
          depth--;
          i += 2;
        } else i++;
      }
    } else return i;
  }
}

/**
 * psql meta-commands (`\set ON_ERROR_STOP on`, `\i other.sql`) are not SQL: their lines are
 * blanked (same length, so offsets hold) before parsing.
 */
export function blankPsqlMetaCommands(text: string): string {
  if (!text.includes('\\') || !/(^|\n)[ \t]*\\/.test(text)) return text;
  return text.replace(/(^|\n)([ \t]*\\[^\n]*)/g, (_m, nl: string, line: string) => nl + ' '.repeat(line.length));
}

export function parseSource(lib: LibPgQuery, src: SourceText, parseText: string): ParseOutcome {
  let result: ParseResult;
  try {
    if (!/\S/.test(parseText)) return { ok: true, statements: [] };
    result = lib.parseSync(parseText);
  } catch (err) {
    const details = (err as { sqlDetails?: { cursorPosition?: number; message?: string } }).sqlDetails;
    const message = details?.message ?? (err as Error).message ?? String(err);
    // cursorPosition is 0-based, in characters.
    const pos = details?.cursorPosition ?? 0;
    return { ok: false, message, charOffset: Math.max(0, Math.min(pos, src.text.length)) };
  }
  const statements: ParsedStatement[] = [];
  for (const raw of result.stmts ?? []) {
    if (!raw.stmt) continue;
    const loc = raw.stmt_location ?? 0;
    const len = raw.stmt_len ?? 0;
    const end = len > 0 ? loc + len : src.byteLength;
    // The reported start can include leading whitespace and comments: move to the first token.
    const startChar = skipTrivia(src.text, src.charAt(loc));
    const start = startChar === src.charAt(loc) ? loc : Buffer.byteLength(src.text.slice(0, startChar), 'utf8');
    let endTrim = end;
    // Trailing whitespace/semicolons are not part of the statement.
    while (endTrim > start && /[\s;]/.test(src.text[src.charAt(endTrim - 1)] ?? '')) endTrim--;
    statements.push({ node: raw.stmt, kind: kindOf(raw.stmt), start, end: endTrim });
  }
  return { ok: true, statements };
}
