import { readTables } from '../catalog/read.js';
import { connect } from '../db/connection.js';
import type { TableModel } from './convert.js';

/** The tables of one schema as `convert` needs them: column types, nullability, defaults, primary key. */
export async function readCatalogModel(url: string, schema: string): Promise<Map<string, TableModel>> {
  const client = await connect(url, 'tandem convert');
  try {
    const tables = await readTables(client, schema);
    const out = new Map<string, TableModel>();
    for (const [name, t] of tables) {
      out.set(name, {
        primaryKey: [...t.primaryKey],
        columns: new Map(t.columns.map((c) => [c.name, { type: c.type, notNull: c.notNull, default: c.default }])),
      });
    }
    return out;
  } finally {
    await client.end().catch(() => undefined);
  }
}
