/**
 * What a statement does to the tables it touches, independent of any rule: the locks it takes
 * (PostgreSQL's documented lock levels) and whether it does work proportional to a table's size
 * (a rewrite, a full scan, an index build, row writes). Rules share the column and constraint
 * analyses below.
 */
import type { AlterTableCmd, ColumnDef, Constraint, Node, RangeVar } from 'libpg-query';
import { as, displayRel, isSerialTypeName, names, relFromNames, relName, str, type RelName } from './ast.js';
import { analyzeTypeChange, type TypeChange } from './type-change.js';
import { LockMode, type FileView, type Hit, type LockTaken, type StatementFacts } from './types.js';
import { findVolatileCall, type VolatileCall } from './volatility.js';

// ---------------------------------------------------------------------------------------------
// ADD COLUMN

export interface AddColumnInfo {
  name: string;
  defaultExpr?: Node;
  /** DEFAULT NULL, or no default. */
  defaultIsNull: boolean;
  volatileDefault?: VolatileCall;
  serial: boolean;
  identity: boolean;
  generated?: 'stored' | 'virtual';
  notNull: boolean;
  primaryKey?: Constraint;
  unique?: Constraint;
  checks: Constraint[];
  foreignKeys: Constraint[];
  /** Why adding it rewrites the table, when it does. */
  rewrite?: { reason: string; location?: number };
}

export function constraintsOf(col: ColumnDef): Constraint[] {
  const out: Constraint[] = [];
  for (const n of col.constraints ?? []) {
    const c = as(n, 'Constraint');
    if (c) out.push(c);
  }
  return out;
}

export function isNullConst(n: Node | undefined): boolean {
  const c = as(n, 'A_Const');
  if (c?.isnull) return true;
  const tc = as(n, 'TypeCast');
  return tc ? isNullConst(tc.arg) : false;
}

// Several rules and the facts look at the same ADD COLUMN / ALTER TYPE: analyse each node once.
const addColumnCache = new WeakMap<ColumnDef, AddColumnInfo>();
const typeChangeCache = new WeakMap<AlterTableCmd, TypeChange | undefined>();

export function analyzeAddColumn(col: ColumnDef, file: FileView): AddColumnInfo {
  let info = addColumnCache.get(col);
  if (!info) {
    info = analyzeAddColumnUncached(col, file);
    addColumnCache.set(col, info);
  }
  return info;
}

function analyzeAddColumnUncached(col: ColumnDef, file: FileView): AddColumnInfo {
  const info: AddColumnInfo = {
    name: col.colname ?? '?',
    defaultIsNull: true,
    serial: isSerialTypeName(col.typeName),
    identity: Boolean(col.identity),
    notNull: Boolean(col.is_not_null),
    checks: [],
    foreignKeys: [],
  };
  if (col.raw_default) info.defaultExpr = col.raw_default;
  for (const c of constraintsOf(col)) {
    switch (c.contype) {
      case 'CONSTR_DEFAULT':
        if (c.raw_expr) info.defaultExpr = c.raw_expr;
        break;
      case 'CONSTR_NOTNULL':
        info.notNull = true;
        break;
      case 'CONSTR_IDENTITY':
        info.identity = true;
        break;
      case 'CONSTR_GENERATED':
        info.generated = c.generated_kind === 'v' ? 'virtual' : 'stored';
        break;
      case 'CONSTR_PRIMARY':
        info.primaryKey = c;
        info.notNull = true;
        break;
      case 'CONSTR_UNIQUE':
        info.unique = c;
        break;
      case 'CONSTR_CHECK':
        info.checks.push(c);
        break;
      case 'CONSTR_FOREIGN':
        info.foreignKeys.push(c);
        break;
      default:
        break;
    }
  }
  info.defaultIsNull = info.defaultExpr === undefined || isNullConst(info.defaultExpr);
  if (info.defaultExpr && !info.defaultIsNull) {
    const v = findVolatileCall(info.defaultExpr, (parts) => file.volatility(parts));
    if (v) info.volatileDefault = v;
  }
  const at = col.location;
  if (info.serial) {
    info.rewrite = { reason: 'a serial column takes nextval() as its default, which is VOLATILE: every existing row gets its own value, so the table is rewritten', ...loc(at) };
  } else if (info.identity) {
    info.rewrite = { reason: 'an identity column draws a value from its sequence for every existing row, so the table is rewritten', ...loc(at) };
  } else if (info.generated === 'stored') {
    info.rewrite = { reason: 'a STORED generated column is computed and written for every existing row: the table is rewritten', ...loc(at) };
  } else if (info.volatileDefault) {
    info.rewrite = {
      reason: `its default calls ${info.volatileDefault.name}(), which is VOLATILE: it is evaluated for every existing row, so the table is rewritten`,
      ...loc(info.volatileDefault.location),
    };
  } else if (!info.defaultIsNull && file.pgVersion < 11) {
    info.rewrite = { reason: `before PostgreSQL 11 a column added with a default is written into every row: the table is rewritten`, ...loc(at) };
  }
  return info;
}

function loc(n: number | undefined): { location?: number } {
  return n !== undefined && n >= 0 ? { location: n } : {};
}

// ---------------------------------------------------------------------------------------------
// Constraints

/** The column a `CHECK (col IS NOT NULL)` proves not null, if that is all the check says. */
export function notNullCheckColumn(c: Constraint): string | undefined {
  if (c.contype !== 'CONSTR_CHECK') return undefined;
  const nt = as(c.raw_expr, 'NullTest');
  if (!nt || nt.nulltesttype !== 'IS_NOT_NULL') return undefined;
  const ref = as(nt.arg, 'ColumnRef');
  const parts = names(ref?.fields);
  return parts.length === 1 ? parts[0] : undefined;
}

/** Constraint kinds that ALTER TABLE … ADD validates or builds under its lock. */
export function constraintWork(c: Constraint): string | undefined {
  switch (c.contype) {
    case 'CONSTR_CHECK':
    case 'CONSTR_FOREIGN':
    case 'CONSTR_NOTNULL':
      return c.skip_validation ? undefined : 'scans';
    case 'CONSTR_PRIMARY':
    case 'CONSTR_UNIQUE':
      return c.indexname ? undefined : 'builds an index on';
    case 'CONSTR_EXCLUSION':
      return 'builds an index on';
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// ALTER TABLE subcommands

/**
 * The columns an ALTER TABLE on an existing table adds (a table created earlier in the file is new:
 * nothing to report), each with what the add-column rules need; `hit` returns that rule's finding.
 */
export function addedColumnHits(
  stmt: { relation?: RangeVar; cmds?: Node[] },
  file: FileView,
  hit: (info: AddColumnInfo, col: ColumnDef, table: { rel: RelName; display: string }) => Hit | undefined,
): Hit[] | undefined {
  const rel = relName(stmt.relation);
  if (!rel || file.isNew(rel)) return undefined;
  const table = { rel, display: displayRel(rel) };
  const hits: Hit[] = [];
  for (const cmd of alterCmds(stmt)) {
    if (cmd.subtype !== 'AT_AddColumn') continue;
    const col = as(cmd.def, 'ColumnDef');
    if (!col) continue;
    const h = hit(analyzeAddColumn(col, file), col, table);
    if (h) hits.push(h);
  }
  return hits;
}

export function alterCmds(stmt: { cmds?: Node[] }): AlterTableCmd[] {
  const out: AlterTableCmd[] = [];
  for (const n of stmt.cmds ?? []) {
    const c = as(n, 'AlterTableCmd');
    if (c) out.push(c);
  }
  return out;
}

/** PostgreSQL's lock level for one ALTER TABLE subcommand (AlterTableGetLockLevel). */
function alterCmdLock(cmd: AlterTableCmd, pgVersion: number): LockMode {
  switch (cmd.subtype) {
    case 'AT_SetStatistics':
    case 'AT_SetOptions':
    case 'AT_ResetOptions':
    case 'AT_ValidateConstraint':
    case 'AT_ClusterOn':
    case 'AT_DropCluster':
    case 'AT_SetRelOptions':
    case 'AT_ResetRelOptions':
    case 'AT_ReplaceRelOptions':
      return LockMode.ShareUpdateExclusive;
    case 'AT_EnableTrig':
    case 'AT_EnableAlwaysTrig':
    case 'AT_EnableReplicaTrig':
    case 'AT_DisableTrig':
    case 'AT_EnableTrigAll':
    case 'AT_DisableTrigAll':
    case 'AT_EnableTrigUser':
    case 'AT_DisableTrigUser':
      return LockMode.ShareRowExclusive;
    case 'AT_AttachPartition':
      return pgVersion >= 12 ? LockMode.ShareUpdateExclusive : LockMode.AccessExclusive;
    case 'AT_DetachPartition':
      return as(cmd.def, 'PartitionCmd')?.concurrent ? LockMode.ShareUpdateExclusive : LockMode.AccessExclusive;
    case 'AT_AddConstraint': {
      const c = as(cmd.def, 'Constraint');
      return c?.contype === 'CONSTR_FOREIGN' ? LockMode.ShareRowExclusive : LockMode.AccessExclusive;
    }
    default:
      return LockMode.AccessExclusive;
  }
}

export function typeChangeOf(cmd: AlterTableCmd, rel: RelName, file: FileView): TypeChange | undefined {
  if (cmd.subtype !== 'AT_AlterColumnType') return undefined;
  if (typeChangeCache.has(cmd)) return typeChangeCache.get(cmd);
  const tc = analyzeTypeChange(cmd.name ?? '?', as(cmd.def, 'ColumnDef'), rel, file);
  typeChangeCache.set(cmd, tc);
  return tc;
}

/** The first thing in an ALTER TABLE that costs time proportional to the table. */
function alterWork(cmds: AlterTableCmd[], rel: RelName, file: FileView): (() => string) | undefined {
  const t = () => displayRel(rel);
  for (const cmd of cmds) {
    switch (cmd.subtype) {
      case 'AT_AddColumn': {
        const col = as(cmd.def, 'ColumnDef');
        if (!col) break;
        const info = analyzeAddColumn(col, file);
        if (info.rewrite) return () => `rewrites ${t()}`;
        if (info.primaryKey || info.unique) return () => `builds an index on ${t()}`;
        if (info.foreignKeys.length || info.checks.length) return () => `scans ${t()}`;
        break;
      }
      case 'AT_AddConstraint': {
        const c = as(cmd.def, 'Constraint');
        const w = c ? constraintWork(c) : undefined;
        if (w) return () => `${w} ${t()}`;
        break;
      }
      case 'AT_ValidateConstraint':
        return () => `scans ${t()} to validate ${cmd.name ?? 'a constraint'}`;
      case 'AT_SetNotNull':
        if (!(file.pgVersion >= 12 && file.notNullProven(rel, cmd.name ?? ''))) return () => `scans ${t()}`;
        break;
      case 'AT_AlterColumnType': {
        const tc = typeChangeOf(cmd, rel, file);
        if (tc && tc.verdict !== 'no-rewrite') return () => `rewrites ${t()}`;
        break;
      }
      case 'AT_SetTableSpace':
      case 'AT_SetLogged':
      case 'AT_SetUnLogged':
      case 'AT_SetAccessMethod':
        return () => `rewrites ${t()}`;
      case 'AT_AttachPartition':
        return () => `scans the partition attached to ${t()}`;
      default:
        break;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Statement facts

function rv(r: RangeVar | undefined): RelName | undefined {
  return relName(r);
}

/** Referenced tables of FOREIGN KEYs in a CREATE TABLE / ADD COLUMN / ADD CONSTRAINT. */
function foreignKeyTargets(constraints: Constraint[]): RelName[] {
  const out: RelName[] = [];
  for (const c of constraints) {
    if (c.contype === 'CONSTR_FOREIGN') {
      const r = rv(c.pktable);
      if (r) out.push(r);
    }
  }
  return out;
}

function dropObjects(objects: Node[] | undefined): RelName[] {
  const out: RelName[] = [];
  for (const o of objects ?? []) {
    const list = as(o, 'List');
    const parts = list ? names(list.items) : [str(o)].filter((s): s is string => s !== undefined);
    const r = relFromNames(parts);
    if (r) out.push(r);
  }
  return out;
}

function hasFrom(n: Node | undefined): boolean {
  const s = as(n, 'SelectStmt');
  if (!s) return false;
  if ((s.fromClause?.length ?? 0) > 0) return true;
  return hasFrom(s.larg ? { SelectStmt: s.larg } : undefined) || hasFrom(s.rarg ? { SelectStmt: s.rarg } : undefined);
}

export function statementFacts(node: Node, file: FileView): StatementFacts {
  const locks: LockTaken[] = [];
  let work: StatementFacts['work'];
  const lock = (rel: RelName | undefined, mode: LockMode, via?: string) => {
    if (!rel) return;
    const l: LockTaken = { rel, mode, isNew: file.isNew(rel) };
    if (via) l.via = via;
    locks.push(l);
  };
  const heavy = (rel: RelName | undefined, what: string | (() => string)) => {
    if (work || (rel && file.isNew(rel))) return;
    const describe = typeof what === 'string' ? () => what : what;
    work = rel ? { describe, rel } : { describe };
  };

  const alter = as(node, 'AlterTableStmt');
  if (alter) {
    const rel = rv(alter.relation);
    const cmds = alterCmds(alter);
    let mode: LockMode = LockMode.AccessShare;
    for (const c of cmds) mode = Math.max(mode, alterCmdLock(c, file.pgVersion)) as LockMode;
    lock(rel, mode);
    for (const c of cmds) {
      const con = as(c.def, 'Constraint');
      const col = as(c.def, 'ColumnDef');
      const fkTargets = foreignKeyTargets(con ? [con] : col ? constraintsOf(col) : []);
      for (const t of fkTargets) lock(t, LockMode.ShareRowExclusive);
    }
    if (rel) {
      const w = alterWork(cmds, rel, file);
      if (w) heavy(rel, w);
    }
    return finish();
  }

  const idx = as(node, 'IndexStmt');
  if (idx) {
    const rel = rv(idx.relation);
    lock(rel, idx.concurrent ? LockMode.ShareUpdateExclusive : LockMode.Share);
    if (rel) heavy(rel, () => `builds an index on ${displayRel(rel)}`);
    return finish();
  }

  const drop = as(node, 'DropStmt');
  if (drop) {
    const objs = dropObjects(drop.objects);
    switch (drop.removeType) {
      case 'OBJECT_TABLE':
      case 'OBJECT_MATVIEW':
      case 'OBJECT_VIEW':
      case 'OBJECT_FOREIGN_TABLE':
        for (const o of objs) lock(o, LockMode.AccessExclusive);
        break;
      case 'OBJECT_INDEX':
        for (const o of objs) {
          const t = file.indexTable(o);
          lock(t ?? o, drop.concurrent ? LockMode.ShareUpdateExclusive : LockMode.AccessExclusive, t ? `index ${displayRel(o)}` : 'index');
        }
        break;
      case 'OBJECT_TRIGGER':
      case 'OBJECT_POLICY':
      case 'OBJECT_RULE':
        // objects: [[schema,] table, name]
        for (const o of drop.objects ?? []) {
          const parts = names(as(o, 'List')?.items);
          const r = relFromNames(parts.slice(0, -1));
          lock(r, LockMode.AccessExclusive);
        }
        break;
      default:
        break;
    }
    return finish();
  }

  const ren = as(node, 'RenameStmt');
  if (ren) {
    const rel = rv(ren.relation);
    const mode = ren.renameType === 'OBJECT_INDEX' && file.pgVersion >= 12 ? LockMode.ShareUpdateExclusive : LockMode.AccessExclusive;
    lock(rel, mode);
    return finish();
  }

  const trunc = as(node, 'TruncateStmt');
  if (trunc) {
    for (const r of trunc.relations ?? []) lock(rv(as(r, 'RangeVar')), LockMode.AccessExclusive);
    return finish();
  }

  const vac = as(node, 'VacuumStmt');
  if (vac) {
    const full = isVacuumFull(vac.options);
    for (const r of vac.rels ?? []) {
      const rel = rv(as(r, 'VacuumRelation')?.relation);
      lock(rel, full ? LockMode.AccessExclusive : LockMode.ShareUpdateExclusive);
      if (full && rel) heavy(rel, () => `rewrites ${displayRel(rel)}`);
      else if (vac.is_vacuumcmd && rel) heavy(rel, () => `vacuums ${displayRel(rel)}`);
    }
    if ((vac.rels?.length ?? 0) === 0 && vac.is_vacuumcmd) heavy(undefined, full ? 'rewrites every table of the database' : 'vacuums every table of the database');
    return finish();
  }

  const cl = as(node, 'ClusterStmt');
  if (cl) {
    const rel = rv(cl.relation);
    lock(rel, LockMode.AccessExclusive);
    heavy(rel, rel ? `rewrites ${displayRel(rel)}` : 'rewrites every clustered table');
    return finish();
  }

  const lk = as(node, 'LockStmt');
  if (lk) {
    const mode = Math.min(8, Math.max(1, lk.mode ?? 8)) as LockMode;
    for (const r of lk.relations ?? []) lock(rv(as(r, 'RangeVar')), mode);
    return finish();
  }

  const ri = as(node, 'ReindexStmt');
  if (ri) {
    const conc = (ri.params ?? []).some((p) => as(p, 'DefElem')?.defname === 'concurrently');
    const rel = rv(ri.relation);
    if (rel && (ri.kind === 'REINDEX_OBJECT_TABLE' || ri.kind === 'REINDEX_OBJECT_INDEX')) {
      const table = ri.kind === 'REINDEX_OBJECT_INDEX' ? file.indexTable(rel) : rel;
      lock(table ?? rel, conc ? LockMode.ShareUpdateExclusive : ri.kind === 'REINDEX_OBJECT_INDEX' ? LockMode.AccessExclusive : LockMode.Share);
      heavy(table ?? rel, () => `rebuilds indexes of ${displayRel(table ?? rel)}`);
    } else heavy(undefined, 'rebuilds many indexes');
    return finish();
  }

  const trig = as(node, 'CreateTrigStmt');
  if (trig) {
    lock(rv(trig.relation), LockMode.ShareRowExclusive);
    return finish();
  }

  const create = as(node, 'CreateStmt');
  if (create) {
    const cons: Constraint[] = [];
    for (const e of create.tableElts ?? []) {
      const c = as(e, 'Constraint');
      if (c) cons.push(c);
      const col = as(e, 'ColumnDef');
      if (col) cons.push(...constraintsOf(col));
    }
    for (const t of foreignKeyTargets(cons)) lock(t, LockMode.ShareRowExclusive);
    if (create.partbound) {
      for (const p of create.inhRelations ?? []) lock(rv(as(p, 'RangeVar')), LockMode.AccessExclusive);
    }
    return finish();
  }

  const refresh = as(node, 'RefreshMatViewStmt');
  if (refresh) {
    const rel = rv(refresh.relation);
    lock(rel, refresh.concurrent ? LockMode.Exclusive : LockMode.AccessExclusive);
    if (rel) heavy(rel, () => `refreshes ${displayRel(rel)}`);
    return finish();
  }

  const pol = as(node, 'CreatePolicyStmt') ?? as(node, 'AlterPolicyStmt');
  if (pol) {
    lock(rv(pol.table), LockMode.AccessExclusive);
    return finish();
  }

  const upd = as(node, 'UpdateStmt');
  if (upd) {
    const rel = rv(upd.relation);
    lock(rel, LockMode.RowExclusive);
    if (rel) heavy(rel, () => `writes rows of ${displayRel(rel)}`);
    return finish();
  }
  const del = as(node, 'DeleteStmt');
  if (del) {
    const rel = rv(del.relation);
    lock(rel, LockMode.RowExclusive);
    if (rel) heavy(rel, () => `deletes rows of ${displayRel(rel)}`);
    return finish();
  }
  const ins = as(node, 'InsertStmt');
  if (ins) {
    const rel = rv(ins.relation);
    lock(rel, LockMode.RowExclusive);
    // INSERT … SELECT reads other tables even when the target is new.
    if (rel && hasFrom(ins.selectStmt)) heavy(file.isNew(rel) ? undefined : rel, () => `copies rows into ${displayRel(rel)}`);
    return finish();
  }
  const merge = as(node, 'MergeStmt');
  if (merge) {
    const rel = rv(merge.relation);
    lock(rel, LockMode.RowExclusive);
    if (rel) heavy(rel, () => `merges rows into ${displayRel(rel)}`);
    return finish();
  }
  if (as(node, 'SelectStmt') && hasFrom(node)) heavy(undefined, 'runs a query');
  else if (as(node, 'CreateTableAsStmt')) heavy(undefined, 'runs a query');
  else if (as(node, 'DoStmt') || as(node, 'CallStmt')) heavy(undefined, 'runs procedural code');
  else if (as(node, 'CopyStmt')) heavy(undefined, 'copies rows');
  return finish();

  function finish(): StatementFacts {
    return work ? { locks, work } : { locks };
  }
}

/** A DefElem argument that reads as false: false, off, no, 0 (String, Integer or A_Const). */
function constFalse(n: Node | undefined): boolean {
  if (!n) return false;
  const s = str(n);
  if (s !== undefined) return ['false', 'off', '0', 'no'].includes(s.toLowerCase());
  const i = as(n, 'Integer');
  if (i) return (i.ival ?? 0) === 0;
  const c = as(n, 'A_Const');
  if (!c) return false;
  if (c.boolval !== undefined) return !c.boolval.boolval;
  if (c.ival !== undefined) return (c.ival.ival ?? 0) === 0;
  if (c.sval !== undefined) return ['false', 'off', '0', 'no'].includes((c.sval.sval ?? '').toLowerCase());
  return false;
}

/** True for VACUUM (FULL) / VACUUM FULL, and not for VACUUM (FULL false). */
export function isVacuumFull(options: Node[] | undefined): boolean {
  for (const o of options ?? []) {
    const d = as(o, 'DefElem');
    if (d?.defname === 'full' && !constFalse(d.arg)) return true;
  }
  return false;
}
