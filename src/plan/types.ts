import type { z } from 'zod';
import type { ActionSchema, BackfillStepSchema, LockLevelSchema, PhaseSchema, PlanSchema, SqlStepSchema, StepSchema, VersionSchemaStepSchema } from './plan-schema.js';

/**
 * The plan's types, inferred from its zod schema (src/plan/plan-schema.ts), which documents each
 * field and validates stored plans: add a field there, not here.
 */
export type LockLevel = z.infer<typeof LockLevelSchema>;
export type Action = z.infer<typeof ActionSchema>;
export type SqlStep = z.infer<typeof SqlStepSchema>;
export type BackfillStep = z.infer<typeof BackfillStepSchema>;
export type VersionSchemaStep = z.infer<typeof VersionSchemaStepSchema>;
export type Step = z.infer<typeof StepSchema>;
export type Phase = z.infer<typeof PhaseSchema>;
export type Plan = z.infer<typeof PlanSchema>;
