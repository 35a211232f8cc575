import type { Command } from 'commander';

/** Registers `tandem convert`. (Being written: this registers nothing yet.) */
export function registerConvertCommand(_program: Command): void {}
