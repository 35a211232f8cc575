/**
 * The registry of lint rules. `RuleId` lists every rule; the record below is typed by it, so a
 * rule that is declared but not registered (or the reverse) is a compile error.
 */
import type { Rule, RuleDocs, Severity } from '../types.js';
import { accessExclusiveHeld } from './access-exclusive-held.js';
import { addColumnNotNullWithoutDefault } from './add-column-not-null-without-default.js';
import { addColumnSerial } from './add-column-serial.js';
import { addColumnStoredGenerated } from './add-column-stored-generated.js';
import { addColumnVolatileDefault } from './add-column-volatile-default.js';
import { addExclusionConstraint } from './add-exclusion-constraint.js';
import { addPrimaryKey } from './add-primary-key.js';
import { addUniqueConstraint } from './add-unique-constraint.js';
import { alterColumnType } from './alter-column-type.js';
import { checkWithoutNotValid } from './check-without-not-valid.js';
import { cluster } from './cluster.js';
import { concurrentlyInTransaction } from './concurrently-in-transaction.js';
import { createIndexNonConcurrent } from './create-index-non-concurrent.js';
import { dropColumn } from './drop-column.js';
import { dropIndexNonConcurrent } from './drop-index-non-concurrent.js';
import { dropTable } from './drop-table.js';
import { foreignKeyWithoutNotValid } from './foreign-key-without-not-valid.js';
import { lockTable } from './lock-table.js';
import { reindexNonConcurrent } from './reindex-non-concurrent.js';
import { renameColumn } from './rename-column.js';
import { renameTable } from './rename-table.js';
import { requireLockTimeout } from './require-lock-timeout.js';
import { setNotNull } from './set-not-null.js';
import { truncate } from './truncate.js';
import { unbatchedWrite } from './unbatched-write.js';
import { vacuumFull } from './vacuum-full.js';

export type RuleId =
  | 'create-index-non-concurrent'
  | 'drop-index-non-concurrent'
  | 'reindex-non-concurrent'
  | 'foreign-key-without-not-valid'
  | 'check-without-not-valid'
  | 'add-unique-constraint'
  | 'add-primary-key'
  | 'add-exclusion-constraint'
  | 'set-not-null'
  | 'add-column-volatile-default'
  | 'add-column-serial'
  | 'add-column-stored-generated'
  | 'add-column-not-null-without-default'
  | 'alter-column-type'
  | 'rename-column'
  | 'rename-table'
  | 'drop-column'
  | 'drop-table'
  | 'vacuum-full'
  | 'cluster'
  | 'lock-table'
  | 'truncate'
  | 'unbatched-write'
  | 'access-exclusive-held'
  | 'concurrently-in-transaction'
  | 'require-lock-timeout';

export const rules: Record<RuleId, Rule> = {
  'create-index-non-concurrent': createIndexNonConcurrent,
  'drop-index-non-concurrent': dropIndexNonConcurrent,
  'reindex-non-concurrent': reindexNonConcurrent,
  'foreign-key-without-not-valid': foreignKeyWithoutNotValid,
  'check-without-not-valid': checkWithoutNotValid,
  'add-unique-constraint': addUniqueConstraint,
  'add-primary-key': addPrimaryKey,
  'add-exclusion-constraint': addExclusionConstraint,
  'set-not-null': setNotNull,
  'add-column-volatile-default': addColumnVolatileDefault,
  'add-column-serial': addColumnSerial,
  'add-column-stored-generated': addColumnStoredGenerated,
  'add-column-not-null-without-default': addColumnNotNullWithoutDefault,
  'alter-column-type': alterColumnType,
  'rename-column': renameColumn,
  'rename-table': renameTable,
  'drop-column': dropColumn,
  'drop-table': dropTable,
  'vacuum-full': vacuumFull,
  cluster,
  'lock-table': lockTable,
  truncate,
  'unbatched-write': unbatchedWrite,
  'access-exclusive-held': accessExclusiveHeld,
  'concurrently-in-transaction': concurrentlyInTransaction,
  'require-lock-timeout': requireLockTimeout,
};

/** Findings the analyzer itself produces (not configurable checks over statements). */
export const metaRules: Record<'syntax-error' | 'invalid-ignore', { id: string; defaultSeverity: Severity; docs: RuleDocs }> = {
  'syntax-error': {
    id: 'syntax-error',
    defaultSeverity: 'error',
    docs: {
      summary: 'The file is not valid PostgreSQL SQL (exit code 2)',
      why: "PostgreSQL's own parser rejects the file: it would fail when run, and nothing in it can be checked.",
      safe: 'Fix the syntax at the reported position.',
      tandem: 'n/a',
    },
  },
  'invalid-ignore': {
    id: 'invalid-ignore',
    defaultSeverity: 'warning',
    docs: {
      summary: 'A tandem-ignore comment names an unknown rule or gives no reason',
      why: 'An ignore should say which rule it silences and why, so that reviewers can judge it.',
      safe: 'Write `-- tandem-ignore <rule-id>[, <rule-id>…]: <reason>` (or `tandem-ignore-file` for the whole file).',
      tandem: 'n/a',
    },
  },
};

export const ruleIds = Object.keys(rules) as RuleId[];

export function isRuleId(id: string): id is RuleId {
  return Object.prototype.hasOwnProperty.call(rules, id);
}

/** The rules that look at a statement kind (its own, then those that look at every statement). */
export function rulesByKind(): (kind: string) => Rule[] {
  const byKind = new Map<string, Rule[]>();
  const any: Rule[] = [];
  for (const id of ruleIds) {
    const r = rules[id];
    if (r.on === '*') any.push(r);
    else for (const k of r.on) byKind.set(k, [...(byKind.get(k) ?? []), r]);
  }
  for (const [k, list] of byKind) byKind.set(k, [...list, ...any]);
  return (kind) => byKind.get(kind) ?? any;
}
