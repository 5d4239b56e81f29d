/**
 * The console's reports, counted by PostgreSQL: rows are grouped by the local day of the
 * requested time zone in SQL, so a report's cost does not grow with the history kept in memory.
 */
import { sql } from "kysely";
import type { ReportRange, ReportStore, StoreCallOptions } from "../../core/ports/store.ts";
import { type StoreContext, guard } from "./guard.ts";

/** Bridge session states that count as a failure of the room. */
const FAILED_SESSION_STATES = ["failed", "timeout", "denied"];
/** Event log kinds of entering the lobby and of leaving it (admitted, denied, timed out). */
const LOBBY_STEPS = ["bridge.lobby", "bridge.admitted", "bridge.denied", "bridge.timeout"];

export class PostgresReportStore implements ReportStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  sessionsPerDay(range: ReportRange, options?: StoreCallOptions): Promise<Array<{ day: string; state: string; count: number }>> {
    return guard(options, async () => {
      const { rows } = await sql<{ day: string; state: string; count: string | number }>`
        select to_char(due_at at time zone ${range.timeZone}, 'YYYY-MM-DD') as day, state, count(*) as count
        from bridge_session
        where due_at >= ${range.from} and due_at < ${range.to}
        group by 1, 2 order by 1, 2`.execute(this.#ctx.db);
      return rows.map((r) => ({ day: r.day, state: r.state, count: Number(r.count) }));
    });
  }

  meetingsPerDay(range: ReportRange, options?: StoreCallOptions): Promise<Array<{ day: string; route: string; count: number }>> {
    return guard(options, async () => {
      const { rows } = await sql<{ day: string; route: string; count: string | number }>`
        select to_char(start_at at time zone ${range.timeZone}, 'YYYY-MM-DD') as day, route, count(*) as count
        from meeting
        where start_at >= ${range.from} and start_at < ${range.to} and not cancelled and not declined
        group by 1, 2 order by 1, 2`.execute(this.#ctx.db);
      return rows.map((r) => ({ day: r.day, route: r.route, count: Number(r.count) }));
    });
  }

  roomFailures(
    range: ReportRange,
    limit: number,
    options?: StoreCallOptions,
  ): Promise<Array<{ roomId: string; mailbox: string; displayName: string; failedSessions: number; pollErrors: number }>> {
    return guard(options, async () => {
      const { rows } = await sql<{ room_id: string; mailbox: string; display_name: string; failed_sessions: string | number; poll_errors: string | number }>`
        with sessions as (
          select room_id, count(*) as n from bridge_session
          where due_at >= ${range.from} and due_at < ${range.to} and state in (${sql.join(FAILED_SESSION_STATES)})
          group by room_id
        ), polls as (
          select room_id, count(*) as n from event_log
          where at >= ${range.from} and at < ${range.to} and kind = 'poll.error' and room_id is not null
          group by room_id
        )
        select r.id as room_id, r.mailbox, r.display_name,
               coalesce(s.n, 0) as failed_sessions, coalesce(p.n, 0) as poll_errors
        from room r
        left join sessions s on s.room_id = r.id
        left join polls p on p.room_id = r.id
        where coalesce(s.n, 0) + coalesce(p.n, 0) > 0
        order by coalesce(s.n, 0) + coalesce(p.n, 0) desc, r.mailbox
        limit ${limit}`.execute(this.#ctx.db);
      return rows.map((r) => ({
        roomId: r.room_id,
        mailbox: r.mailbox,
        displayName: r.display_name,
        failedSessions: Number(r.failed_sessions),
        pollErrors: Number(r.poll_errors),
      }));
    });
  }

  lobbyWaitsPerDay(range: ReportRange, options?: StoreCallOptions): Promise<Array<{ day: string; sessions: number; p50Seconds: number; p95Seconds: number }>> {
    return guard(options, async () => {
      // Leaving the lobby is looked for up to a day past the range (a lobby times out long before).
      const { rows } = await sql<{ day: string; sessions: string | number; p50: string | number; p95: string | number }>`
        with steps as (
          select data->>'sessionId' as session_id, kind, at from event_log
          where kind in (${sql.join(LOBBY_STEPS)}) and at >= ${range.from} and at < ${new Date(range.to.getTime() + 86_400_000)}
            and data->>'sessionId' is not null
        ), waits as (
          select min(at) filter (where kind = 'bridge.lobby') as entered,
                 min(at) filter (where kind <> 'bridge.lobby') as left_at
          from steps group by session_id
        )
        select to_char(entered at time zone ${range.timeZone}, 'YYYY-MM-DD') as day, count(*) as sessions,
               percentile_cont(0.5) within group (order by extract(epoch from left_at - entered)) as p50,
               percentile_cont(0.95) within group (order by extract(epoch from left_at - entered)) as p95
        from waits
        where entered >= ${range.from} and entered < ${range.to} and left_at >= entered
        group by 1 order by 1`.execute(this.#ctx.db);
      const seconds = (v: string | number) => Math.round(Number(v) * 10) / 10;
      return rows.map((r) => ({ day: r.day, sessions: Number(r.sessions), p50Seconds: seconds(r.p50), p95Seconds: seconds(r.p95) }));
    });
  }

  pushesPerDay(range: ReportRange, options?: StoreCallOptions): Promise<Array<{ day: string; outcome: string; count: number }>> {
    return guard(options, async () => {
      const { rows } = await sql<{ day: string; outcome: string; count: string | number }>`
        select to_char(at at time zone ${range.timeZone}, 'YYYY-MM-DD') as day,
               case when kind = 'device.pushed' then 'ok' else 'failed' end as outcome, count(*) as count
        from event_log
        where kind in ('device.pushed', 'device.push-failed') and at >= ${range.from} and at < ${range.to}
        group by 1, 2 order by 1, 2`.execute(this.#ctx.db);
      return rows.map((r) => ({ day: r.day, outcome: r.outcome, count: Number(r.count) }));
    });
  }
}
