/**
 * How the Graph and EWS clients send one HTTP request: under one AbortController joining the
 * caller's signal and the request timeout (AbortSignal.timeout/any cost more than the rest of a
 * request at thousands of requests per cycle), the reply's body read under the same signal so a
 * stalled body also times out. Each client maps a `SendFailure` with its own error table.
 */

/** The request did not get an answer: it timed out, or the network failed (`cause`). */
export class SendFailure extends Error {
  constructor(
    readonly timedOut: boolean,
    override readonly cause: unknown,
  ) {
    super(timedOut ? "request timed out" : "request failed", { cause });
  }
}

/**
 * Runs `send` with a signal that aborts when the caller's does or after `timeoutMs`.
 * @throws the caller's signal's reason when it aborted; else a SendFailure for any failure of `send`.
 */
export async function sendWithTimeout<T>(signal: AbortSignal, timeoutMs: number, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error("request timed out"));
  }, timeoutMs);
  try {
    signal.throwIfAborted();
    return await send(controller.signal);
  } catch (cause) {
    if (signal.aborted) throw signal.reason;
    throw new SendFailure(timedOut, cause);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}
