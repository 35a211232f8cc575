/**
 * An OpenFeature provider (`@openfeature/server-sdk`) for teams that steer releases with flags:
 * the string flag `tandem-schema-version` resolves, for the evaluation context's `targetingKey`,
 * to the version schema tandem's router gives that key — the same sticky hash, so a user's flag
 * and their database transactions agree.
 *
 *   import { OpenFeature } from '@openfeature/server-sdk';
 *   import { TandemProvider } from 'tandem/client/openfeature';
 *   await OpenFeature.setProviderAndWait(new TandemProvider({ router }));   // router = await versionRouter({ pool })
 *   const version = await OpenFeature.getClient().getStringValue('tandem-schema-version', 'public', { targetingKey: userId });
 *
 * Reasons: TARGETING_MATCH while a migration is in progress (variant 'old' or 'new'), STATIC when
 * none is (every key gets the latest version, variant 'new'; no targeting key needed). Problems
 * come back as OpenFeature error codes with the default value, never as exceptions:
 * TARGETING_KEY_MISSING, FLAG_NOT_FOUND (another flag), TYPE_MISMATCH (not asked as a string),
 * GENERAL. Every change of the rollout emits PROVIDER_CONFIGURATION_CHANGED for the flag.
 */
import {
  ErrorCode,
  type EvaluationContext,
  type JsonValue,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  type ResolutionDetails,
  StandardResolutionReasons,
} from '@openfeature/server-sdk';
import type { RoutingCore } from '../core.js';
import { rolloutInProgress } from '../rollout-state.js';

export const SCHEMA_VERSION_FLAG = 'tandem-schema-version';

export interface TandemProviderOptions {
  /** The router whose routing the flag follows (`versionRouter(…)`, an adapter, or its `core`). */
  router: RoutingCore | { readonly core: RoutingCore };
  /** The flag's key (default `tandem-schema-version`). */
  flagKey?: string;
  /** Close the router when OpenFeature closes the provider (default false: the router is the caller's). */
  closeRouter?: boolean;
}

export class TandemProvider implements Provider {
  readonly metadata = { name: 'tandem' } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  readonly flagKey: string;
  private readonly core: RoutingCore;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: TandemProviderOptions) {
    this.core = 'core' in opts.router ? opts.router.core : opts.router;
    this.flagKey = opts.flagKey ?? SCHEMA_VERSION_FLAG;
  }

  async initialize(): Promise<void> {
    this.unsubscribe ??= this.core.on('change', (state) => {
      this.events.emit(ProviderEvents.ConfigurationChanged, {
        flagsChanged: [this.flagKey],
        metadata: { percent: state.percent, newVersion: state.newVersion, ...(state.oldVersion ? { oldVersion: state.oldVersion } : {}) },
      });
    });
    await Promise.resolve();
  }

  async onClose(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.opts.closeRouter) await this.core.close();
  }

  resolveStringEvaluation(flagKey: string, defaultValue: string, context: EvaluationContext): Promise<ResolutionDetails<string>> {
    return Promise.resolve(this.resolveVersion(flagKey, defaultValue, context));
  }

  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean): Promise<ResolutionDetails<boolean>> {
    return Promise.resolve(this.notAString(flagKey, defaultValue));
  }

  resolveNumberEvaluation(flagKey: string, defaultValue: number): Promise<ResolutionDetails<number>> {
    return Promise.resolve(this.notAString(flagKey, defaultValue));
  }

  resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T): Promise<ResolutionDetails<T>> {
    return Promise.resolve(this.notAString(flagKey, defaultValue));
  }

  private resolveVersion(flagKey: string, defaultValue: string, context: EvaluationContext): ResolutionDetails<string> {
    if (flagKey !== this.flagKey) return failed(defaultValue, ErrorCode.FLAG_NOT_FOUND, `tandem provides only the flag "${this.flagKey}"`);
    try {
      const state = this.core.state();
      const metadata = { percent: state.percent, newVersion: state.newVersion, ...(state.oldVersion ? { oldVersion: state.oldVersion } : {}) };
      if (!rolloutInProgress(state)) return { value: state.newVersion, variant: 'new', reason: StandardResolutionReasons.STATIC, flagMetadata: metadata };
      const key = context.targetingKey;
      if (typeof key !== 'string' || key === '') {
        return failed(defaultValue, ErrorCode.TARGETING_KEY_MISSING, 'a migration is in progress: the version depends on the targeting key, and the context has none');
      }
      return { value: this.core.versionFor(key), variant: this.core.sideFor(key), reason: StandardResolutionReasons.TARGETING_MATCH, flagMetadata: metadata };
    } catch (err) {
      return failed(defaultValue, ErrorCode.GENERAL, err instanceof Error ? err.message : String(err));
    }
  }

  private notAString<T>(flagKey: string, defaultValue: T): ResolutionDetails<T> {
    if (flagKey !== this.flagKey) return failed(defaultValue, ErrorCode.FLAG_NOT_FOUND, `tandem provides only the flag "${this.flagKey}"`);
    return failed(defaultValue, ErrorCode.TYPE_MISMATCH, `"${this.flagKey}" is a string flag (the version schema's name)`);
  }
}

function failed<T>(value: T, errorCode: ErrorCode, errorMessage: string): ResolutionDetails<T> {
  return { value, reason: StandardResolutionReasons.ERROR, errorCode, errorMessage };
}
