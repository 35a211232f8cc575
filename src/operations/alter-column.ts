import type { OperationBody } from '../migration/schema.js';
import type { Action } from '../plan/types.js';
import { ident, literal, qualified } from '../sql/ident.js';
import type { OpContext } from './context.js';
import { pushForeignKeyTrial, requireReferencedKey } from './fragment-checks.js';
import { swapRename } from './column-swap.js';
import type { OperationHandler } from './handler.js';
import { planShadow, shadowPhases, type ShadowRef } from './shadow.js';
import { checkClause, referencesClause } from './column-sql.js';
import { directChange, type DirectChange, directPhases, ignoreSyncExpressions, isDirect } from './new-table.js';
import type { VColumn, VTable } from '../model/virtual-schema.js';

interface InPlace {
  schema: string;
  table: string;
  physical: string;
  /** New comment set on the column itself at start; the old one comes back on rollback. */
  comment?: { to: string | null; from: string | null };
  /** The column and table in the model: complete renames the column as the whole migration leaves it. */
  model: { table: VTable; column: VColumn };
}

/** `table` (physical) groups this operation's statements with the table's others. */
type Resolved = ({ table: string } & ({ shadow: ShadowRef } | { inPlace: InPlace })) | DirectChange;

/**
 * A rename or a comment changes the column in place (the rename only in the new version's view
 * until complete). A change of type, nullability or default, or a new check, unique or
 * foreign key goes through a shadow column with the new definition: the sync trigger keeps both
 * in step (`up` old→new, `down` new→old), the backfill fills existing rows, and complete swaps
 * the shadow in, with copies of the column's indexes and constraints.
 */
export const alterColumn: OperationHandler<'alter_column', Resolved> = {
  validate(body: OperationBody<'alter_column'>, ctx: OpContext) {
    const table = ctx.requireTable(body.table);
    const column = ctx.requireColumn(table, body.column);
    if (table.createdByMigration) return alterOnNewTable(ctx, table, column, body);
    ctx.claimColumn(table, column, 'column');
    const changes = (['name', 'type', 'nullable', 'default', 'comment', 'check', 'unique', 'references'] as const).filter((f) => body[f] !== undefined);
    if (changes.length === 0) {
      ctx.fail('alter_column changes nothing', 'column', 'give at least one of name, type, nullable, default, comment, check, unique, references');
    }
    const finalName = body.name ?? column.name;
    if (body.name !== undefined && body.name !== column.name) ctx.requireNewName(table, body.name, 'name');
    if (body.nullable === false && !column.nullable) ctx.fail(`column "${column.name}" is already NOT NULL`, 'nullable');
    if (body.nullable === true && column.nullable) ctx.fail(`column "${column.name}" is already nullable`, 'nullable');

    // A default goes on the shadow too: changed in place at start, the old version would lose the
    // default it inserts with (dropping the default of a NOT NULL column makes its inserts fail).
    const needsShadow = ['type', 'nullable', 'default', 'check', 'unique', 'references'].some((f) => body[f as keyof typeof body] !== undefined);
    if (!needsShadow) {
      // pgroll's format asks for up/down on every alter_column: accepted, and unused here.
      if (body.up !== undefined || body.down !== undefined) {
        ctx.warn(
          `${body.up !== undefined ? 'up' : 'down'} ignored: a ${body.name !== undefined ? 'rename' : 'comment change'} needs no conversion`,
          body.up !== undefined ? 'up' : 'down',
        );
      }
      const original = ctx.catalog.get(table.physical)?.columns.find((c) => c.name === column.physical);
      const inPlace: InPlace = { schema: ctx.schema, table: table.physical, physical: column.physical, model: { table, column } };
      ctx.touch(table);
      if (body.comment !== undefined) inPlace.comment = { to: body.comment, from: original?.comment ?? null };
      column.name = finalName;
      return { table: table.physical, inPlace };
    }

    if ((body.type !== undefined || body.check || body.references) && (body.up === undefined || body.down === undefined)) {
      const what = body.type !== undefined ? 'a type change' : body.check ? 'a new check' : 'a new foreign key';
      ctx.fail(
        `${what} needs both \`up\` (old value → new column) and \`down\` (new value → old column)`,
        body.up === undefined ? 'up' : 'down',
        body.type !== undefined ? `e.g. up: "CAST(${column.name} AS ${body.type})", down: "CAST(${finalName} AS ${column.type})"` : undefined,
      );
    }
    if (body.nullable === false && body.up === undefined) {
      ctx.fail('setting NOT NULL needs `up`, the value for rows where the column is NULL', 'up', `e.g. up: "coalesce(${column.name}, <value>)"`);
    }
    if (body.nullable === true && body.down === undefined) {
      ctx.fail('dropping NOT NULL needs `down`, the value the old version sees when the new one writes NULL', 'down', `e.g. down: "coalesce(${finalName}, <value>)"`);
    }
    if (body.unique && ctx.relationNameTaken(body.unique.name)) ctx.fail(`the name "${body.unique.name}" is already taken`, 'unique.name');
    if (body.check && ctx.constraintExists(table.physical, body.check.name)) ctx.fail(`constraint "${body.check.name}" already exists`, 'check.name');
    if (body.references && ctx.constraintExists(table.physical, body.references.name)) ctx.fail(`constraint "${body.references.name}" already exists`, 'references.name');
    if (body.unique) ctx.claimRelationName(body.unique.name);
    if (body.references) {
      requireReferencedKey(ctx, body.references.table, [body.references.column], 'references', () => 'references.column');
      pushForeignKeyTrial(ctx, body.references.table, [body.references.column], [body.type ?? column.type], 'references', 'references.column');
    }
    // An omitted up/down is the column itself: its value carried over unchanged.
    const shadow = planShadow(ctx, table, column, {
      finalName,
      type: body.type ?? column.type,
      notNull: body.nullable === undefined ? !column.nullable : !body.nullable,
      ...(body.default !== undefined ? { default: body.default } : {}),
      ...(body.comment !== undefined ? { comment: body.comment } : {}),
      ...(body.check ? { check: body.check } : {}),
      ...(body.unique ? { unique: body.unique } : {}),
      ...(body.references ? { references: body.references } : {}),
      up: body.up ?? ident(column.name),
      down: body.down ?? ident(finalName),
    });
    if (body.unique) column.indexed = true;
    // Over the columns after this operation (the column under its final name and type).
    if (body.check) ctx.checkCondition(body.check.constraint, table.name, 'check.constraint');
    return { table: table.physical, shadow };
  },

  start(r) {
    if (isDirect(r)) return directPhases.start(r);
    if ('shadow' in r) return shadowPhases.start(r.shadow);
    const p = r.inPlace;
    const actions: Action[] = [];
    if (p.comment) actions.push(commentOn(p, p.comment.to));
    return actions;
  },

  /**
   * A shadow: validations, then the swap (src/operations/shadow.ts). In place: a `name` is
   * ALTER TABLE … RENAME COLUMN <physical> TO <final name>, in the table's column swap
   * (src/operations/column-swap.ts), under the name the column ends the migration with.
   */
  complete(r) {
    if (isDirect(r)) return directPhases.complete();
    if ('shadow' in r) return shadowPhases.complete(r.shadow);
    const { table, column } = r.inPlace.model;
    return table.columns.includes(column) ? swapRename(r.inPlace.schema, r.inPlace.table, column.physical, column.name) : [];
  },

  rollback(r) {
    if (isDirect(r)) return directPhases.rollback(r);
    if ('shadow' in r) return shadowPhases.rollback(r.shadow);
    const p = r.inPlace;
    const actions: Action[] = [];
    if (p.comment) actions.push(commentOn(p, p.comment.from));
    return actions;
  },
};

function commentOn(p: InPlace, text: string | null): Action {
  return {
    sql: `COMMENT ON COLUMN ${qualified(p.schema, p.table)}.${ident(p.physical)} IS ${text === null ? 'NULL' : literal(text)}`,
    lock: 'SHARE UPDATE EXCLUSIVE',
    table: qualified(p.schema, p.table),
    transactional: true,
    description: 'comment',
  };
}

/**
 * On a table this migration creates: each change is one ALTER TABLE, in the expand transaction
 * right after the CREATE TABLE; the rename goes last, since the other statements use the old name.
 * The table is empty, so a type change converts nothing (`USING NULL`) and `up`/`down` are unused.
 */
function alterOnNewTable(ctx: OpContext, table: VTable, column: VColumn, body: OperationBody<'alter_column'>): DirectChange {
  const changes = (['name', 'type', 'nullable', 'default', 'comment', 'check', 'unique', 'references'] as const).filter((f) => body[f] !== undefined);
  if (changes.length === 0) ctx.fail('alter_column changes nothing', 'column', 'give at least one of name, type, nullable, default, comment, check, unique, references');
  if (body.name !== undefined && body.name !== column.name) ctx.requireNewName(table, body.name, 'name');
  if (body.unique && ctx.relationNameTaken(body.unique.name)) ctx.fail(`the name "${body.unique.name}" is already taken`, 'unique.name');
  if (body.unique) ctx.claimRelationName(body.unique.name);
  ignoreSyncExpressions(ctx, table, { up: body.up, down: body.down });
  if (body.type !== undefined) ctx.checkType(body.type, 'type');
  if (body.default !== undefined && body.default !== null) ctx.checkExpression(body.default, 'none', undefined, body.type ?? column.type, 'default');
  if (body.check) ctx.checkCondition(body.check.constraint, table.name, 'check.constraint');
  if (body.references) requireReferencedKey(ctx, body.references.table, [body.references.column], 'references', () => 'references.column');
  const ref = qualified(ctx.schema, table.physical);
  const col = ident(column.physical);
  const statements: { sql: string; description: string }[] = [];
  const alter = (clause: string, description: string) => statements.push({ sql: `ALTER TABLE ${ref} ${clause}`, description });
  if (body.type !== undefined) alter(`ALTER COLUMN ${col} TYPE ${body.type} USING NULL::${body.type}`, `type of ${column.name}`);
  if (body.default === null) alter(`ALTER COLUMN ${col} DROP DEFAULT`, `drop default of ${column.name}`);
  else if (body.default !== undefined) alter(`ALTER COLUMN ${col} SET DEFAULT ${body.default}`, `default of ${column.name}`);
  if (body.nullable !== undefined) alter(`ALTER COLUMN ${col} ${body.nullable ? 'DROP' : 'SET'} NOT NULL`, `${body.nullable ? 'drop' : 'set'} NOT NULL on ${column.name}`);
  if (body.check) alter(`ADD ${checkClause(body.check)}`, `check ${body.check.name}`);
  if (body.unique) alter(`ADD CONSTRAINT ${ident(body.unique.name)} UNIQUE (${col})`, `unique ${body.unique.name}`);
  if (body.references)
    alter(`ADD ${referencesClause(ctx.schema, body.references).replace('REFERENCES', `FOREIGN KEY (${col}) REFERENCES`)}`, `foreign key ${body.references.name}`);
  if (body.comment !== undefined) {
    statements.push({ sql: `COMMENT ON COLUMN ${ref}.${col} IS ${body.comment === null ? 'NULL' : literal(body.comment)}`, description: `comment on ${column.name}` });
  }
  if (body.name !== undefined && body.name !== column.physical) alter(`RENAME COLUMN ${col} TO ${ident(body.name)}`, `rename ${column.name} to ${body.name}`);
  if (body.type !== undefined) column.type = body.type;
  if (body.nullable !== undefined) column.nullable = body.nullable;
  if (body.default !== undefined) column.default = body.default;
  if (body.unique) column.indexed = true;
  if (body.name !== undefined) {
    table.primaryKey = table.primaryKey.map((k) => (k === column.physical ? body.name! : k));
    column.name = column.physical = body.name;
  }
  return directChange(ctx, table, statements, changes[0]!, {
    references: body.references ? [body.references.table] : [],
    ...(body.references ? { constraint: body.references.name } : {}),
  });
}
