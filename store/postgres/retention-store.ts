import { sql } from "kysely";
import { addMs } from "../../core/clock.ts";
import type { PruneCounts, PruneCutoffs, RetentionStore, StoreCallOptions } from "../../core/ports/store.ts";
import { type StoreContext, guard } from "./guard.ts";

/** Rows one prune statement deletes at most: short transactions, no long lock on busy tables. */
const PRUNE_BATCH = 5_000;

/**
 * Job leases (table job_lease, a row per job, the same owner/expiry scheme as the room, device and
 * session leases) and the prune of old history.
 */
export class PostgresRetentionStore implements RetentionStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  claimJob(name: string, now: Date, leaseMs: number, options?: StoreCallOptions): Promise<boolean> {
    return guard(options, async () => {
      await this.#ctx.db
        .insertInto("job_lease")
        .values({ name })
        .onConflict((oc) => oc.column("name").doNothing())
        .execute();
      const result = await sql`update job_lease set lease_owner = ${this.#ctx.owner}, lease_expires_at = ${addMs(now, leaseMs)}
        where name = ${name} and (lease_owner is null or lease_owner = ${this.#ctx.owner} or lease_expires_at <= ${now})`.execute(this.#ctx.db);
      return Number(result.numAffectedRows ?? 0) > 0;
    });
  }

  releaseJob(name: string, now: Date, options?: StoreCallOptions): Promise<void> {
    return guard(options, async () => {
      await sql`update job_lease set lease_owner = null, lease_expires_at = null, last_run_at = ${now}
        where name = ${name} and lease_owner = ${this.#ctx.owner}`.execute(this.#ctx.db);
    });
  }

  prune(cutoffs: PruneCutoffs, options?: StoreCallOptions): Promise<PruneCounts> {
    return guard(options, async () => {
      const bridgeSessions = await this.#inBatches(
        options,
        () => sql`delete from bridge_session where occurrence_key in (
          select occurrence_key from bridge_session
          where updated_at < ${cutoffs.bridgeSessionsBefore} and state not in ('scheduled', 'starting', 'lobby', 'admitted')
          limit ${PRUNE_BATCH})`,
      );
      const eventLog = await this.#inBatches(
        options,
        () => sql`delete from event_log where id in (select id from event_log where at < ${cutoffs.eventLogBefore} limit ${PRUNE_BATCH})`,
      );
      const meetings = await this.#inBatches(
        options,
        () => sql`delete from meeting where occurrence_key in (
          select occurrence_key from meeting where end_at < ${cutoffs.meetingsEndedBefore} limit ${PRUNE_BATCH})`,
      );
      const before = cutoffs.alarmsClearedBefore;
      const alarms =
        before === undefined
          ? 0
          : await this.#inBatches(options, () => sql`delete from alarm where id in (select id from alarm where cleared_at < ${before} limit ${PRUNE_BATCH})`);
      // The daily request budgets' past days (one small row per budget and UTC day), kept as long as the event log.
      await sql`delete from request_budget where day < ${cutoffs.eventLogBefore.toISOString().slice(0, 10)}`.execute(this.#ctx.db);
      return { bridgeSessions, eventLog, meetings, alarms };
    });
  }

  /** Runs a batch delete until a batch deletes less than a full batch; returns the total. */
  async #inBatches(options: StoreCallOptions | undefined, statement: () => ReturnType<typeof sql>): Promise<number> {
    let total = 0;
    for (;;) {
      options?.signal?.throwIfAborted();
      const result = await statement().execute(this.#ctx.db);
      const n = Number(result.numAffectedRows ?? 0);
      total += n;
      if (n < PRUNE_BATCH) return total;
    }
  }
}
