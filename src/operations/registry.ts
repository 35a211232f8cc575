import type { OperationKind } from '../migration/schema.js';
import { addColumn } from './add-column.js';
import { alterColumn } from './alter-column.js';
import { createTable } from './create-table.js';
import { dropColumn } from './drop-column.js';
import type { OperationHandler } from './handler.js';
import { renameColumn } from './rename-column.js';

/** Typed by OperationKind: an operation without a handler is a compile error. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const handlers: { [K in OperationKind]: OperationHandler<K, any> } = {
  create_table: createTable,
  add_column: addColumn,
  drop_column: dropColumn,
  rename_column: renameColumn,
  alter_column: alterColumn,
};
