import { readFile } from 'node:fs/promises';
import { loadModule, parseSync, scanSync, type Node, type SqlError } from 'libpg-query';
import { InvalidInputError } from '../errors.js';

/**
 * A SQL file parsed with the real PostgreSQL parser (libpg-query), split into statements that
 * know their text and their line:column. Shared by `tandem convert` and `tandem trace`.
 *
 * libpg-query reports positions as byte offsets into the UTF-8 text; everything here keeps byte
 * offsets internally and converts to (1-based) line and column, in characters, for messages.
 */

let loaded: Promise<void> | undefined;
export function loadParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

export interface SqlToken {
  /** Byte offsets into the file. */
  start: number;
  end: number;
  text: string;
  /** libpg-query's token name: IDENT, SCONST, ICONST, SQL_COMMENT, C_COMMENT, ASCII_44 (","), ... */
  name: string;
  /** The keyword in upper case when the token is a keyword. */
  keyword?: string;
}

export interface SqlPosition {
  line: number;
  col: number;
}

/** The text of a SQL file, addressable by the byte offsets the parser reports. */
export class SqlSource {
  readonly bytes: Buffer;
  private lineStarts: number[] | undefined;
  private allTokens: SqlToken[] | undefined;

  constructor(
    readonly file: string,
    readonly text: string,
  ) {
    this.bytes = Buffer.from(text, 'utf8');
  }

  slice(start: number, end: number): string {
    return this.bytes.subarray(start, end).toString('utf8');
  }

  /** 1-based line and column (in characters) of a byte offset. */
  position(offset: number): SqlPosition {
    if (!this.lineStarts) {
      this.lineStarts = [0];
      for (let i = 0; i < this.bytes.length; i++) if (this.bytes[i] === 0x0a) this.lineStarts.push(i + 1);
    }
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    const col = [...this.slice(this.lineStarts[lo]!, offset)].length + 1;
    return { line: lo + 1, col };
  }

  /** `file:line:col` of a byte offset. */
  where(offset: number): string {
    const p = this.position(offset);
    return `${this.file}:${p.line}:${p.col}`;
  }

  /** Every token of the file, comments included (the file is known to parse). */
  tokens(): SqlToken[] {
    if (!this.allTokens) {
      this.allTokens = (scanSync(this.text).tokens ?? []).map((t) => {
        const tok: SqlToken = { start: t.start, end: t.end, text: t.text, name: t.tokenName };
        if (t.keywordKind > 0) tok.keyword = t.text.toUpperCase();
        return tok;
      });
    }
    return this.allTokens;
  }

  /** The tokens inside [start, end), without comments. */
  tokensIn(start: number, end: number): SqlToken[] {
    return this.tokens().filter((t) => t.start >= start && t.end <= end && t.name !== 'SQL_COMMENT' && t.name !== 'C_COMMENT');
  }
}

export interface SqlStatement {
  /** 0-based position in the file. */
  index: number;
  /** The statement node, e.g. { CreateStmt: {...} }. */
  node: Node;
  /** Its node type, e.g. "CreateStmt". */
  kind: string;
  /** Byte offsets of the statement text in the file (comments before it excluded, no ";"). */
  start: number;
  end: number;
  text: string;
  line: number;
  col: number;
}

export interface ParsedSql {
  source: SqlSource;
  statements: SqlStatement[];
}

/** The SQL file does not parse. Exit code 2 with `file:line:col: message`. */
export class SqlSyntaxError extends InvalidInputError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(detail, { file: `${file}:${line}:${col}` }, 'fix the SQL; nothing was run or converted', options);
  }
}

function isSqlError(err: unknown): err is SqlError {
  return err instanceof Error && 'sqlDetails' in err;
}

/** Parse SQL text. Throws SqlSyntaxError (exit 2) with the position of the error. */
export async function parseSql(text: string, file: string): Promise<ParsedSql> {
  await loadParser();
  const source = new SqlSource(file, text);
  let result;
  try {
    result = parseSync(text);
  } catch (err) {
    if (isSqlError(err)) {
      // cursorPosition counts characters (code points) from 0.
      const chars = [...text];
      const pos = Math.max(0, Math.min(chars.length, err.sqlDetails?.cursorPosition ?? 0));
      const offset = Buffer.byteLength(chars.slice(0, pos).join(''), 'utf8');
      const p = source.position(offset);
      throw new SqlSyntaxError(file, p.line, p.col, err.sqlDetails?.message ?? err.message, { cause: err });
    }
    throw err;
  }
  const statements: SqlStatement[] = [];
  for (const raw of result.stmts ?? []) {
    if (!raw.stmt) continue;
    const rawStart = raw.stmt_location ?? 0;
    const rawEnd = raw.stmt_len ? rawStart + raw.stmt_len : source.bytes.length;
    // stmt_location includes the whitespace and comments since the previous ";".
    const toks = source.tokensIn(rawStart, rawEnd).filter((t) => t.text !== ';');
    if (toks.length === 0) continue;
    const start = toks[0]!.start;
    const end = toks[toks.length - 1]!.end;
    const kind = Object.keys(raw.stmt)[0]!;
    const p = source.position(start);
    statements.push({ index: statements.length, node: raw.stmt, kind, start, end, text: source.slice(start, end), line: p.line, col: p.col });
  }
  return { source, statements };
}

/** Read and parse a SQL file. A missing file or a syntax error is an InvalidInputError (exit 2). */
export async function parseSqlFile(file: string): Promise<ParsedSql> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidInputError(`cannot read the file: ${(err as Error).message}`, { file }, undefined, { cause: err });
  }
  return parseSql(text, file);
}
