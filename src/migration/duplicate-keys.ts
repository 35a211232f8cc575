import YAML, { isMap, isPair, isScalar, isSeq, LineCounter, type Node } from 'yaml';

/** A key given twice in one object of a migration file: where it is and the path to it. */
export interface DuplicateKey {
  key: string;
  /** Path of the object holding the key, from the document's root (keys and list indexes). */
  path: (string | number)[];
  /** 1-based position of the second occurrence. */
  line: number;
  column: number;
}

/** 1-based line and column of a character offset in `text`. */
export function linePosition(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

type JsonFrame = { kind: 'object'; keys: Set<string>; key: string | undefined; expectKey: boolean } | { kind: 'array'; index: number };

function framePath(frames: JsonFrame[]): (string | number)[] {
  return frames.slice(0, -1).map((f) => (f.kind === 'object' ? (f.key ?? '') : f.index));
}

/** End offset (exclusive) of the JSON string starting at `start` (its opening quote). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

/**
 * The first key given twice in one object of a JSON text, which JSON.parse has already accepted
 * (JSON.parse keeps the last one silently). One pass over the text, no tree built.
 */
export function findDuplicateJsonKey(text: string): DuplicateKey | undefined {
  const frames: JsonFrame[] = [];
  for (let i = 0; i < text.length;) {
    const ch = text[i]!;
    const top = frames[frames.length - 1];
    if (ch === '"') {
      const end = stringEnd(text, i);
      if (top?.kind === 'object' && top.expectKey) {
        const key = JSON.parse(text.slice(i, end)) as string;
        if (top.keys.has(key)) return { key, path: framePath(frames), ...linePosition(text, i) };
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = end;
      continue;
    }
    if (ch === '{') frames.push({ kind: 'object', keys: new Set(), key: undefined, expectKey: true });
    else if (ch === '[') frames.push({ kind: 'array', index: 0 });
    else if (ch === '}' || ch === ']') frames.pop();
    else if (ch === ',' && top?.kind === 'array') top.index++;
    else if (ch === ',' && top?.kind === 'object') top.expectKey = true;
    i++;
  }
  return undefined;
}

/**
 * The first key given twice in one mapping of a parsed YAML document (parsed with
 * `uniqueKeys: false`, so that the path to it can be given, not only its line).
 */
export function findDuplicateYamlKey(doc: YAML.Document.Parsed, lineCounter: LineCounter): DuplicateKey | undefined {
  const stack: { node: Node | null | undefined; path: (string | number)[] }[] = [{ node: doc.contents, path: [] }];
  while (stack.length) {
    const { node, path } = stack.pop()!;
    const children: { node: Node | null; path: (string | number)[] }[] = [];
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        if (seen.has(key)) {
          const at = lineCounter.linePos((pair.key as Node | null)?.range?.[0] ?? 0);
          return { key, path, line: at.line, column: at.col };
        }
        seen.add(key);
        children.push({ node: pair.value as Node | null, path: [...path, key] });
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => children.push({ node: item as Node | null, path: [...path, index] }));
    }
    // Depth first, in document order: the duplicate reported is the first one in the file.
    stack.push(...children.reverse());
  }
  return undefined;
}
