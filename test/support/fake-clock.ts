/** Tests drive time by hand: see core/manual-clock.ts. */
export { ManualClock as FakeClock } from "../../core/manual-clock.ts";
