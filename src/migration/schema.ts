import { z } from 'zod';
import { identifierFits, MAX_IDENTIFIER_BYTES } from '../sql/ident.js';

/**
 * The migration file format: pgroll's, field for field, so pgroll users keep their files.
 * This zod schema is the single source of the TypeScript types, of validation, and of the
 * JSON Schema exported for editors (`tandem schema`).
 */

const sqlExpression = z.string().min(1);

/**
 * A name of a table, column, index or constraint. PostgreSQL silently truncates identifiers over
 * 63 bytes (so two long names could become one); they are refused instead.
 */
const identifier = z
  .string()
  .min(1)
  .refine(identifierFits, {
    error: (issue) =>
      `"${String(issue.input)}" is ${Buffer.byteLength(String(issue.input), 'utf8')} bytes, over PostgreSQL's ${MAX_IDENTIFIER_BYTES}-byte limit for names (it would be truncated)`,
    params: { code: 'name-too-long' },
  });

export const CheckConstraint = z
  .object({
    name: identifier.describe('Name of the check constraint'),
    constraint: sqlExpression.describe('SQL boolean expression of the constraint'),
    no_inherit: z.boolean().optional().describe('Whether the constraint is NO INHERIT'),
  })
  .strict();

const referentialAction = z.enum(['NO ACTION', 'RESTRICT', 'CASCADE', 'SET NULL', 'SET DEFAULT']);

export const ForeignKeyReference = z
  .object({
    name: identifier.describe('Name of the foreign key constraint'),
    table: identifier.describe('Referenced table'),
    column: identifier.describe('Referenced column'),
    on_delete: referentialAction.optional(),
    on_update: referentialAction.optional(),
    match_type: z.enum(['SIMPLE', 'FULL']).optional(),
    deferrable: z.boolean().optional(),
    initially_deferred: z.boolean().optional(),
    on_delete_set_columns: z.array(identifier).optional(),
  })
  .strict();

export const Column = z
  .object({
    name: identifier.describe('Name of the column'),
    type: z.string().min(1).describe('PostgreSQL type of the column'),
    nullable: z.boolean().optional().describe('Whether the column accepts NULL (default false, as in pgroll)'),
    unique: z.boolean().optional().describe('Whether the column is UNIQUE'),
    pk: z.boolean().optional().describe('Whether the column is (part of) the primary key'),
    default: z.string().nullable().optional().describe('SQL expression for the default value'),
    check: CheckConstraint.optional(),
    references: ForeignKeyReference.optional(),
    comment: z.string().nullable().optional(),
    generated: z
      .object({
        expression: z.string().optional(),
        identity: z
          .object({
            user_specified_values: z.enum(['ALWAYS', 'BY DEFAULT']).optional(),
            sequence_options: z.string().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** A foreign key of one or more columns of a table (pgroll's TableForeignKeyReference). */
export const TableForeignKeyReference = z
  .object({
    table: identifier,
    columns: z.array(identifier).min(1),
    on_delete: referentialAction.optional(),
    on_update: referentialAction.optional(),
    match_type: z.enum(['SIMPLE', 'FULL', 'PARTIAL']).optional(),
    on_delete_set_columns: z.array(identifier).optional(),
  })
  .strict();

export const IndexParameters = z.object({ tablespace: identifier.optional(), storage_parameters: z.string().optional(), include_columns: z.array(identifier).optional() }).strict();

export const TableConstraint = z
  .object({
    name: identifier,
    type: z.enum(['unique', 'check', 'primary_key', 'foreign_key', 'exclude']),
    columns: z.array(identifier).optional(),
    check: z.string().optional(),
    references: TableForeignKeyReference.optional(),
    deferrable: z.boolean().optional(),
    initially_deferred: z.boolean().optional(),
    nulls_not_distinct: z.boolean().optional(),
    no_inherit: z.boolean().optional(),
    exclude: z.object({ index_method: z.string().optional(), elements: z.string().optional(), predicate: z.string().optional() }).strict().optional(),
    index_parameters: IndexParameters.optional(),
  })
  .strict();

export const CreateTable = z
  .object({
    name: identifier.describe('Name of the table to create'),
    columns: z.array(Column).min(1),
    constraints: z.array(TableConstraint).optional(),
    comment: z.string().optional(),
  })
  .strict();

export const AddColumn = z
  .object({
    table: identifier,
    column: Column,
    up: sqlExpression.optional().describe('SQL expression that fills the column for existing rows and for rows written by the old version'),
  })
  .strict();

export const DropColumn = z
  .object({
    table: identifier,
    column: identifier,
    down: sqlExpression.optional().describe('SQL expression for the dropped column when the new version writes a row'),
  })
  .strict();

export const RenameColumn = z
  .object({
    table: identifier,
    from: identifier,
    to: identifier,
  })
  .strict();

export const AlterColumn = z
  .object({
    table: identifier,
    column: identifier,
    name: identifier.optional().describe('New name of the column'),
    type: z.string().min(1).optional().describe('New type of the column'),
    nullable: z.boolean().optional().describe('false adds NOT NULL (needs `up`), true drops it'),
    default: z.string().nullable().optional(),
    comment: z.string().nullable().optional(),
    check: CheckConstraint.optional(),
    unique: z.object({ name: identifier }).strict().optional(),
    references: ForeignKeyReference.optional(),
    up: sqlExpression.optional().describe("SQL expression old -> new, evaluated over the old version's columns"),
    down: sqlExpression.optional().describe("SQL expression new -> old, evaluated over the new version's columns"),
  })
  .strict();

const multiColumnSql = z.record(identifier, z.string());

export const IndexField = z
  .object({
    column: identifier,
    collate: z.string().optional(),
    sort: z.enum(['ASC', 'DESC', '']).optional(),
    opclass: z
      .object({ name: z.string().optional(), params: z.array(z.string()).optional() })
      .strict()
      .optional(),
    nulls: z.enum(['FIRST', 'LAST']).optional(),
  })
  .strict();

export const CreateIndex = z
  .object({
    name: identifier,
    table: identifier,
    columns: z.array(IndexField).min(1),
    predicate: z.string().optional(),
    method: z.enum(['btree', 'hash', 'gist', 'spgist', 'gin', 'brin']).optional(),
    storage_parameters: z.string().optional(),
    unique: z.boolean().optional(),
  })
  .strict();

export const DropIndex = z.object({ name: identifier }).strict();
export const DropTable = z.object({ name: identifier }).strict();
export const RenameTable = z.object({ from: identifier, to: identifier }).strict();
export const RawSql = z.object({ up: z.string().min(1), down: z.string().optional(), onComplete: z.boolean().optional() }).strict();

export const CreateConstraint = z
  .object({
    table: identifier,
    name: identifier,
    type: z.enum(['unique', 'check', 'foreign_key', 'primary_key']),
    columns: z.array(identifier).optional(),
    check: z.string().optional(),
    no_inherit: z.boolean().optional(),
    index_parameters: IndexParameters.optional(),
    references: TableForeignKeyReference.optional(),
    up: multiColumnSql.optional(),
    down: multiColumnSql.optional(),
  })
  .strict();

export const DropConstraint = z.object({ table: identifier, name: identifier, up: z.string().optional(), down: z.string().optional() }).strict();
export const DropMultiColumnConstraint = z.object({ table: identifier, name: identifier, up: multiColumnSql.optional(), down: multiColumnSql }).strict();
export const RenameConstraint = z.object({ table: identifier, from: identifier, to: identifier }).strict();
export const SetReplicaIdentity = z
  .object({
    table: identifier,
    identity: z
      .object({ type: z.string().min(1), index: z.string().refine(identifierFits, { error: "over PostgreSQL's 63-byte limit for names", params: { code: 'name-too-long' } }) })
      .strict(),
  })
  .strict();

/** Every operation of pgroll's format, keyed by its pgroll name. */
export const operationSchemas = {
  create_table: CreateTable,
  add_column: AddColumn,
  drop_column: DropColumn,
  rename_column: RenameColumn,
  alter_column: AlterColumn,
  create_index: CreateIndex,
  drop_index: DropIndex,
  drop_table: DropTable,
  rename_table: RenameTable,
  sql: RawSql,
  create_constraint: CreateConstraint,
  drop_constraint: DropConstraint,
  drop_multicolumn_constraint: DropMultiColumnConstraint,
  rename_constraint: RenameConstraint,
  set_replica_identity: SetReplicaIdentity,
} as const;

export type AnyOperationKind = keyof typeof operationSchemas;
export const allOperationKinds = Object.keys(operationSchemas) as AnyOperationKind[];

export type OperationKind = AnyOperationKind;
export const operationKinds: OperationKind[] = allOperationKinds;

export type OperationBody<K extends OperationKind> = z.infer<(typeof operationSchemas)[K]>;
export type Operation = { [K in OperationKind]: { kind: K; body: OperationBody<K> } }[OperationKind];

const operationEntry = z.union(
  allOperationKinds.map((kind) => z.object({ [kind]: operationSchemas[kind] }).strict()) as unknown as [z.ZodTypeAny, z.ZodTypeAny, ...z.ZodTypeAny[]],
);

export const MigrationFile = z
  .object({
    name: z.string().min(1).optional().describe('Migration name; defaults to the file name without extension'),
    version_schema: identifier.optional().describe('Name of the version schema (default <schema>_<name>)'),
    operations: z.array(operationEntry).min(1),
  })
  .strict();

export type ColumnDef = z.infer<typeof Column>;
export type TableConstraintDef = z.infer<typeof TableConstraint>;
export type CheckDef = z.infer<typeof CheckConstraint>;
export type ForeignKeyDef = z.infer<typeof ForeignKeyReference>;

export interface Migration {
  name: string;
  versionSchema?: string;
  operations: Operation[];
  /** Where it was read from, for error messages. */
  file?: string;
}

export function migrationJsonSchema(): unknown {
  return z.toJSONSchema(MigrationFile, { target: 'draft-2020-12' });
}
