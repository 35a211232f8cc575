import { TandemError } from '../errors.js';

/** The application's role may not read the rollout state: it needs the grants of `tandem grant-client <role>`. */
export class RolloutStateUnreadableError extends TandemError {
  readonly exitCode = 1 as const;
  readonly code = 'rollout-state-unreadable';
  constructor(
    readonly schema: string,
    cause: unknown,
  ) {
    super(
      `cannot read the rollout state of schema "${schema}" (tandem.rollouts): permission denied\n` +
        '  hint: run `tandem grant-client <the application role>` as the role that owns the tandem schema',
      { cause },
    );
  }
}
