/**
 * Small typed helpers over libpg-query's JSON parse tree. Every node is a one-key object
 * (`{ AlterTableStmt: {...} }`); protobuf omits default values, so a missing number is 0 and a
 * missing boolean is false.
 */
import type { Node, RangeVar, TypeName } from 'libpg-query';

type KeysOfUnion<T> = T extends unknown ? keyof T : never;
export type NodeKind = KeysOfUnion<Node>;
export type NodeOf<K extends NodeKind> = Extract<Node, Record<K, unknown>>[K];

/** The node's payload when it is of kind `k`. */
export function as<K extends NodeKind>(n: Node | undefined, k: K): NodeOf<K> | undefined {
  if (n === undefined || n === null) return undefined;
  return (n as Record<string, unknown>)[k] as NodeOf<K> | undefined;
}

export function kindOf(n: Node): NodeKind {
  for (const k in n) return k as NodeKind;
  return 'ParseResult' as NodeKind;
}

/** The `sval` of a String node. */
export function str(n: Node | undefined): string | undefined {
  return as(n, 'String')?.sval;
}

/** The strings of a name list (`[{String:{sval:'public'}}, {String:{sval:'t'}}]`). */
export function names(list: Node[] | undefined): string[] {
  const out: string[] = [];
  for (const n of list ?? []) {
    const s = str(n);
    if (s !== undefined) out.push(s);
  }
  return out;
}

/** A relation as written: schema (optional) and name. */
export interface RelName {
  schema?: string;
  name: string;
}

export function relName(rv: RangeVar | undefined): RelName | undefined {
  if (!rv?.relname) return undefined;
  return rv.schemaname ? { schema: rv.schemaname, name: rv.relname } : { name: rv.relname };
}

/** `["s","t"]` → {schema:"s", name:"t"}; `["t"]` → {name:"t"}. */
export function relFromNames(parts: string[]): RelName | undefined {
  if (parts.length === 0) return undefined;
  const name = parts[parts.length - 1]!;
  return parts.length >= 2 ? { schema: parts[parts.length - 2]!, name } : { name };
}

/** How a relation reads in a message: `users` or `billing.invoices`. */
export function displayRel(r: RelName): string {
  const q = (s: string) => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);
  return r.schema ? `${q(r.schema)}.${q(r.name)}` : q(r.name);
}

/** An integer A_Const (protobuf drops 0: `{ival:{}}`). */
export function intConst(n: Node | undefined): number | undefined {
  const c = as(n, 'A_Const');
  if (!c) return undefined;
  if (c.ival !== undefined) return c.ival.ival ?? 0;
  return undefined;
}

/** A_Const as a string, whatever its kind (for SET values). */
export function constText(n: Node | undefined): string | undefined {
  const c = as(n, 'A_Const');
  if (!c) return undefined;
  if (c.sval !== undefined) return c.sval.sval ?? '';
  if (c.ival !== undefined) return String(c.ival.ival ?? 0);
  if (c.fval !== undefined) return c.fval.fval ?? '0';
  if (c.boolval !== undefined) return c.boolval.boolval ? 'true' : 'false';
  return undefined;
}

/** Visits every node below `root` (objects and arrays), depth first. Stops early when fn returns true. */
export function walk(root: unknown, fn: (kind: string, value: Record<string, unknown>) => boolean | void): boolean {
  if (root === null || typeof root !== 'object') return false;
  if (Array.isArray(root)) {
    for (const item of root) if (walk(item, fn)) return true;
    return false;
  }
  for (const [k, v] of Object.entries(root as Record<string, unknown>)) {
    if (v !== null && typeof v === 'object') {
      // A node is a one-key object whose key starts with an upper-case letter.
      if (!Array.isArray(v) && k.charCodeAt(0) >= 65 && k.charCodeAt(0) <= 90) {
        if (fn(k, v as Record<string, unknown>)) return true;
      }
      if (walk(v, fn)) return true;
    }
  }
  return false;
}

/** A type as PostgreSQL's catalog names it: canonical name, modifiers, array or not. */
export interface NormalType {
  name: string;
  mods: number[];
  array: boolean;
}

const typeAliases: Record<string, string> = {
  int: 'int4',
  integer: 'int4',
  smallint: 'int2',
  bigint: 'int8',
  serial: 'int4',
  serial4: 'int4',
  bigserial: 'int8',
  serial8: 'int8',
  smallserial: 'int2',
  serial2: 'int2',
  real: 'float4',
  float: 'float8',
  'double precision': 'float8',
  decimal: 'numeric',
  boolean: 'bool',
  'character varying': 'varchar',
  character: 'bpchar',
  char: 'bpchar',
  'bit varying': 'varbit',
  'timestamp with time zone': 'timestamptz',
  'timestamp without time zone': 'timestamp',
  'time with time zone': 'timetz',
  'time without time zone': 'time',
};

export function normalizeTypeName(tn: TypeName | undefined): NormalType | undefined {
  if (!tn) return undefined;
  const parts = names(tn.names);
  if (parts.length === 0) return undefined;
  const raw = parts[parts.length - 1]!.toLowerCase();
  const name = typeAliases[raw] ?? raw;
  const mods: number[] = [];
  for (const m of tn.typmods ?? []) {
    const v = intConst(m);
    if (v !== undefined) mods.push(v);
  }
  return { name, mods, array: (tn.arrayBounds?.length ?? 0) > 0 };
}

/** The type as written by the user, for messages: `varchar(20)`, `numeric(10,2)[]`. */
export function typeText(t: NormalType): string {
  return `${t.name}${t.mods.length ? `(${t.mods.join(',')})` : ''}${t.array ? '[]' : ''}`;
}

export function isSerialTypeName(tn: TypeName | undefined): boolean {
  const parts = names(tn?.names);
  if (parts.length !== 1) return false;
  return ['serial', 'serial4', 'bigserial', 'serial8', 'smallserial', 'serial2'].includes(parts[0]!.toLowerCase());
}
