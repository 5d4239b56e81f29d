/**
 * Exponential backoff, one formula for every retry in otj.
 *
 * The wait before retry `attempt` (0-based) is `baseMs × 2^attempt`, the exponent held at
 * `maxExponent` and the result at `capMs`. With jitter (the default) the wait is drawn from
 * [50%, 100%] of that ceiling, so many rooms or sessions failing together do not retry in step.
 * Each caller keeps its own base and cap; `random` is injectable so tests are exact.
 */

export interface BackoffPolicy {
  /** The wait before the first retry (attempt 0), before jitter. */
  baseMs: number;
  /** The longest wait, before jitter; default no cap. */
  capMs?: number;
  /** The exponent is held here so `2^attempt` stays finite; default 20. */
  maxExponent?: number;
  /**
   * `half` (default): a random wait in [50%, 100%] of the ceiling. `none`: exactly the ceiling,
   * for the few callers whose retry times are part of what they promise (tests pin them).
   */
  jitter?: "half" | "none";
}

/** The wait in milliseconds before retry `attempt` (0-based; negative counts as 0). */
export function backoffMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(attempt, policy.maxExponent ?? 20));
  const ceiling = Math.min(policy.capMs ?? Number.POSITIVE_INFINITY, policy.baseMs * 2 ** exponent);
  if (policy.jitter === "none") return ceiling;
  return Math.round(ceiling * (0.5 + random() / 2));
}
