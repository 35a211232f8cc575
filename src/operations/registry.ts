import type { OperationKind } from '../migration/schema.js';
import { addColumn } from './add-column.js';
import { alterColumn } from './alter-column.js';
import { createTable } from './create-table.js';
import { dropColumn } from './drop-column.js';
import type { OperationHandler } from './handler.js';
import { createConstraint } from './create-constraint.js';
import { createIndex } from './create-index.js';
import { dropConstraint, dropMultiColumnConstraint } from './drop-constraint.js';
import { dropIndex } from './drop-index.js';
import { dropTable } from './drop-table.js';
import { rawSql } from './raw-sql.js';
import { renameColumn } from './rename-column.js';
import { renameConstraint } from './rename-constraint.js';
import { renameTable } from './rename-table.js';
import { setReplicaIdentity } from './set-replica-identity.js';

/** Typed by OperationKind: an operation without a handler is a compile error. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const handlers: { [K in OperationKind]: OperationHandler<K, any> } = {
  create_table: createTable,
  add_column: addColumn,
  drop_column: dropColumn,
  rename_column: renameColumn,
  alter_column: alterColumn,
  create_index: createIndex,
  drop_index: dropIndex,
  drop_table: dropTable,
  rename_table: renameTable,
  sql: rawSql,
  rename_constraint: renameConstraint,
  set_replica_identity: setReplicaIdentity,
  create_constraint: createConstraint,
  drop_constraint: dropConstraint,
  drop_multicolumn_constraint: dropMultiColumnConstraint,
};
