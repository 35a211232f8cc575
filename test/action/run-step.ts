import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../helpers/cli.js';

/**
 * Runs one step of the GitHub Action (scripts/action/run.mjs, what action.yml runs) as the runner
 * does: INPUT_* variables, fresh $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY files, the database URL
 * in TANDEM_DATABASE_URL only. Used by the action's test and the pipeline test.
 */
export interface StepResult {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

/** $GITHUB_OUTPUT's two forms: name=value and name<<DELIMITER … DELIMITER. */
export function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([\w-]+)<<(.+)$/.exec(lines[i]!);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2]!, i + 1);
      out[heredoc[1]!] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else {
      const kv = /^([\w-]+)=(.*)$/.exec(lines[i]!);
      if (kv) out[kv[1]!] = kv[2]!;
    }
  }
  return out;
}

export async function runActionStep(workDir: string, inputs: Record<string, string>, databaseUrl?: string): Promise<StepResult> {
  const tag = randomBytes(4).toString('hex');
  const outputFile = path.join(workDir, `.github-output-${tag}`);
  const summaryFile = path.join(workDir, `.github-summary-${tag}`);
  await writeFile(outputFile, '');
  await writeFile(summaryFile, '');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: workDir,
    TANDEM_DATABASE_URL: databaseUrl ?? '',
    DATABASE_URL: '',
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase().replace(/-/g, '_')}`] = v;
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'scripts', 'action', 'run.mjs')], { env, cwd: workDir });
    let o = '';
    let e = '';
    child.stdout.on('data', (d: Buffer) => (o += d.toString()));
    child.stderr.on('data', (d: Buffer) => (e += d.toString()));
    child.on('exit', (c) => resolve({ code: c ?? 1, stdout: o, stderr: e }));
  });
  return { code, stdout, stderr, outputs: parseOutputs(await readFile(outputFile, 'utf8')), summary: await readFile(summaryFile, 'utf8') };
}
