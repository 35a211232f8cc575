import type { Command } from 'commander';

/** Registers `tandem lint`. (Being written: this registers nothing yet.) */
export function registerLintCommand(_program: Command): void {}
