/**
 * Lint configuration: `--config <file>`, else `.tandemlint.json`, else `tandem-lint.yaml`
 * (or `.yml`) in the current directory.
 *
 *   { "pgVersion": 15, "assumeInTransaction": false,
 *     "rules": { "require-lock-timeout": "error", "rename-column": "off" },
 *     "exclude": ["migrations/legacy/**"] }
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidInputError } from '../errors.js';
import { isRuleId, metaRules } from './rules/index.js';
import type { RuleLevel } from './types.js';

export const DEFAULT_CONFIG_FILES = ['.tandemlint.json', 'tandem-lint.yaml', 'tandem-lint.yml'];

// zod and yaml load only when there is a config file: most runs have none.
async function configSchema() {
  const { z } = await import('zod');
  return z
    .object({
      pgVersion: z.number().int().min(9).max(99).optional(),
      assumeInTransaction: z.boolean().optional(),
      rules: z.record(z.string(), z.enum(['error', 'warning', 'off'])).optional(),
      exclude: z.array(z.string()).optional(),
    })
    .strict();
}

export interface LintConfig {
  file?: string;
  pgVersion?: number;
  assumeInTransaction?: boolean;
  levels: Record<string, RuleLevel>;
  exclude: string[];
}

export async function loadConfig(explicit: string | undefined, cwd = process.cwd()): Promise<LintConfig> {
  let file = explicit;
  if (file === undefined) file = DEFAULT_CONFIG_FILES.map((f) => path.join(cwd, f)).find((f) => existsSync(f));
  if (file === undefined) return { levels: {}, exclude: [] };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidInputError(`cannot read lint config: ${(err as Error).message}`, { file }, undefined, { cause: err });
  }
  let raw: unknown;
  try {
    raw = /\.json$/i.test(file) ? JSON.parse(text) : (await import('yaml')).parse(text);
  } catch (err) {
    throw new InvalidInputError(`lint config is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(err as Error).message}`, { file }, undefined, {
      cause: err,
    });
  }
  const parsed = (await configSchema()).safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidInputError(issue.message, { file, field: issue.path.join('.') }, 'keys: pgVersion, assumeInTransaction, rules, exclude');
  }
  const levels: Record<string, RuleLevel> = {};
  for (const [id, level] of Object.entries(parsed.data.rules ?? {})) {
    if (!isRuleId(id) && id !== metaRules['invalid-ignore'].id) {
      throw new InvalidInputError(`unknown rule "${id}"`, { file, field: `rules.${id}` }, 'see `tandem lint --list-rules`');
    }
    levels[id] = level;
  }
  const config: LintConfig = { file, levels, exclude: parsed.data.exclude ?? [] };
  if (parsed.data.pgVersion !== undefined) config.pgVersion = parsed.data.pgVersion;
  if (parsed.data.assumeInTransaction !== undefined) config.assumeInTransaction = parsed.data.assumeInTransaction;
  return config;
}
