/**
 * The benchmark's traffic: the one traffic generator (src/traffic/workload.ts) on a scenario's
 * table. A scenario is a traffic shape over `items` whose seed rows are scenarios.ts' seedRow.
 */
import { Ledger as ShapeLedger, startClient as startShapeClient, type ClientSpec as ShapeClientSpec, type RunningClient, type TrafficShape } from '../../src/traffic/workload.js';
import { type Scenario, seedRow } from './scenarios.js';

export { diffRow, LockSampler, norm, Partition, PhaseStats, Recorder, type RunningClient, type VerifyResult, verifyTable, type Version } from '../../src/traffic/workload.js';

/** A scenario as the traffic generator sees it. */
export function shapeOf(scenario: Scenario): TrafficShape {
  return {
    oldTable: 'items',
    newTable: scenario.newTable,
    oldColumns: scenario.oldColumns,
    newColumns: scenario.newColumns,
    toNew: (o) => scenario.toNew(o),
    toOld: (n) => scenario.toOld(n),
    seedRow,
    appPrefix: 'zdt-',
    ...(scenario.sync ? { sync: scenario.sync } : {}),
  };
}

export class Ledger extends ShapeLedger {
  constructor(
    readonly scenario: Scenario,
    seedRows: number,
  ) {
    super(shapeOf(scenario), seedRows);
  }
}

export type ClientSpec = Omit<ShapeClientSpec, 'shape'> & { scenario: Scenario };

export function startClient(spec: ClientSpec): RunningClient {
  const { scenario, ...rest } = spec;
  return startShapeClient({ ...rest, shape: shapeOf(scenario) });
}
