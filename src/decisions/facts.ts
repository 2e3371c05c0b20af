/**
 * What the decision service needs to know about principals and datasets at
 * the moment of a decision. `postgres/index.ts` implements it.
 */
import type { DatasetFacts, PrincipalFacts } from '../engine/types.ts';

/** Reads the facts a decision is made on. */
export interface FactsStore {
  /** The principal (and for a service, its sponsor), or undefined if unknown. */
  principal(id: string, now: Date): Promise<PrincipalFacts | undefined>;
  /** The dataset with its classification derived at `now`, or undefined if unknown. */
  dataset(id: string, now: Date): Promise<DatasetFacts | undefined>;
}
