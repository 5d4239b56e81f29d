/** Retention: job leases and the pruning of old history. */
import type { StoreCallOptions } from "./options.ts";

/** What the prune removes: everything of its kind older than its cutoff. */
export interface PruneCutoffs {
  /** Finished bridge sessions last changed before this. Live sessions are never pruned. */
  bridgeSessionsBefore: Date;
  /** Event log entries written before this. */
  eventLogBefore: Date;
  /** Meetings that ended before this. */
  meetingsEndedBefore: Date;
  /** Alarms cleared before this (open alarms are never pruned); absent: alarms are kept. */
  alarmsClearedBefore?: Date;
}

export interface PruneCounts {
  bridgeSessions: number;
  eventLog: number;
  meetings: number;
  /** Cleared alarms removed. */
  alarms: number;
}

export interface RetentionStore {
  /**
   * Takes the named job lease for `leaseMs` when it is free, expired or already this owner's;
   * false when another instance holds it. Two instances calling at once: one gets it.
   */
  claimJob(name: string, now: Date, leaseMs: number, options?: StoreCallOptions): Promise<boolean>;
  /** Gives the job lease back (this owner's only) and records when the job last ran. */
  releaseJob(name: string, now: Date, options?: StoreCallOptions): Promise<void>;
  /** Deletes what is older than the cutoffs, in batches (no long lock on any table). */
  prune(cutoffs: PruneCutoffs, options?: StoreCallOptions): Promise<PruneCounts>;
}
