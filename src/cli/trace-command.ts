import type { Command } from 'commander';

/** Registers `tandem trace`. (Being written: this registers nothing yet.) */
export function registerTraceCommand(_program: Command): void {}
