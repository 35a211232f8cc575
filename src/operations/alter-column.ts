import type { OperationBody } from '../migration/schema.js';
import type { Action } from '../plan/types.js';
import { ident, literal, qualified } from '../sql/ident.js';
import type { OpContext } from './context.js';
import type { OperationHandler } from './handler.js';
import { planShadow, shadowPhases, type ShadowRef } from './shadow.js';

interface InPlace {
  schema: string;
  table: string;
  physical: string;
  /** New comment set on the column itself at start; the old one comes back on rollback. */
  comment?: { to: string | null; from: string | null };
}

/** `table` (physical) groups this operation's statements with the table's others. */
type Resolved = { table: string } & ({ shadow: ShadowRef } | { inPlace: InPlace });

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
      if (body.up !== undefined || body.down !== undefined) ctx.fail('this change needs no up/down', body.up !== undefined ? 'up' : 'down');
      const original = ctx.catalog.get(table.physical)?.columns.find((c) => c.name === column.physical);
      const inPlace: InPlace = { schema: ctx.schema, table: table.physical, physical: column.physical };
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
    return { table: table.physical, shadow };
  },

  start(r) {
    if ('shadow' in r) return shadowPhases.start(r.shadow);
    const p = r.inPlace;
    const actions: Action[] = [];
    if (p.comment) actions.push(commentOn(p, p.comment.to));
    return actions;
  },

  complete(r) {
    // Renames happen with the table's other column swaps (the planner's contract step).
    return 'shadow' in r ? shadowPhases.complete(r.shadow) : [];
  },

  rollback(r) {
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
