import { as, displayRel, relName } from '../ast.js';
import { isVacuumFull } from '../facts.js';
import type { Hit } from '../types.js';
import { defineRule } from './define.js';

export const vacuumFull = defineRule({
  id: 'vacuum-full',
  defaultSeverity: 'error',
  on: ['VacuumStmt'],
  docs: {
    summary: 'VACUUM FULL rewrites the table under ACCESS EXCLUSIVE',
    why: 'VACUUM FULL copies the whole table and rebuilds every index while holding ACCESS EXCLUSIVE: every query, reads included, waits for the whole copy (and it needs disk for a second copy).',
    safe: 'Plain VACUUM (reads and writes go on) to make space reusable; to shrink the files online use pg_repack or pg_squeeze.',
    tandem: 'none — maintenance, not a schema change: run pg_repack outside the migration.',
    bad: 'VACUUM FULL users;',
    good: 'VACUUM (ANALYZE) users;',
  },
  check(ctx) {
    const n = ctx.node;
    if (!n.is_vacuumcmd || !isVacuumFull(n.options)) return undefined;
    const rvs = (n.rels ?? []).map((r) => as(r, 'VacuumRelation')?.relation).filter((r) => r !== undefined);
    const rels = rvs.map((r) => ({ rel: relName(r), location: r.location })).filter((r) => r.rel !== undefined);
    if (rels.length === 0) {
      return [
        {
          message: 'VACUUM FULL of every table in the database',
          why: 'rewrites every table of the database one after the other, each under ACCESS EXCLUSIVE: queries on each table wait while it is copied',
          lock: 'ACCESS EXCLUSIVE',
        },
      ];
    }
    const hits: Hit[] = [];
    for (const { rel: r, location } of rels) {
      const rel = r!;
      if (ctx.file.isNew(rel)) continue;
      hits.push({
        message: `VACUUM FULL ${displayRel(rel)}`,
        why: `copies all of ${displayRel(rel)} and rebuilds its indexes while holding ACCESS EXCLUSIVE: every query on ${displayRel(rel)}, reads included, waits until the copy ends`,
        lock: 'ACCESS EXCLUSIVE',
        rel,
        ...(rels.length > 1 && location !== undefined ? { location } : {}),
      });
    }
    return hits;
  },
});
