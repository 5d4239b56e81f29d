/**
 * GraphRequestBatcher: GETs that concurrent callers ask for in the same turn of the event loop go
 * out together as one JSON `$batch` instead of one HTTP request each.
 *
 * - At most `maxItems` per batch (Graph takes 20; it runs only 4 items of a batch at a time, so
 *   larger batches trade round trips for waiting inside Graph), and one item per mailbox: a batch
 *   asks the gate for one slot of each of its mailboxes (batch items count against the limit of 4).
 * - Each caller gets its own item's answer: a 2xx response, or the item's failure classified like
 *   a direct request's (a 429 carries its own Retry-After), so callers retry items one by one.
 *   A failure of the whole batch goes to every caller in it.
 * - A batch is answered when its slowest item is: a slow mailbox holds back the few rooms that
 *   share its batch (and a batch that times out fails them all, each then retried on its own terms).
 * - A lone request goes out as a plain GET.
 * - A caller whose signal aborts is answered at once with the signal's reason; the batch itself
 *   is aborted when every caller in it has gone.
 */

import { type GraphClient, MAX_BATCH_ITEMS } from "./graph-client.ts";

export interface BatchedGetOptions {
  readonly signal: AbortSignal;
  readonly headers?: Readonly<Record<string, string>>;
  /** The mailbox the request reads, lowercased (the gate's per-mailbox limit counts batch items). */
  readonly mailbox: string;
}

/** A 2xx answer to one batched GET. */
export interface BatchedResponse {
  readonly status: number;
  /** Parsed JSON, or null for an empty body. */
  readonly body: unknown;
  readonly requestId: string | null;
}

interface Pending {
  readonly path: string;
  readonly options: BatchedGetOptions;
  readonly resolve: (response: BatchedResponse) => void;
  readonly reject: (error: unknown) => void;
  /** Set once the caller has been answered (or has gone). */
  settled: boolean;
  /** Called when the caller's signal aborts. */
  onAbort: () => void;
}

export class GraphRequestBatcher {
  readonly #client: GraphClient;
  readonly #maxItems: number;
  #pending: Pending[] = [];
  #scheduled = false;

  /** @param maxItems requests per `$batch`, 2 to 20. */
  constructor(client: GraphClient, maxItems: number) {
    if (!Number.isInteger(maxItems) || maxItems < 2 || maxItems > MAX_BATCH_ITEMS) {
      throw new RangeError(`GraphRequestBatcher: maxItems must be an integer from 2 to ${MAX_BATCH_ITEMS}`);
    }
    this.#client = client;
    this.#maxItems = maxItems;
  }

  /**
   * GET `path` (relative to the service root, without the version) in the next batch.
   * @throws OtjError the item's (or the batch's) failure; the signal's reason when aborted.
   */
  get(path: string, options: BatchedGetOptions): Promise<BatchedResponse> {
    return new Promise<BatchedResponse>((resolve, reject) => {
      if (options.signal.aborted) {
        reject(options.signal.reason);
        return;
      }
      if (this.#pending.some((p) => p.options.mailbox === options.mailbox)) this.#flush();
      const entry: Pending = { path, options, resolve, reject, settled: false, onAbort: () => {} };
      entry.onAbort = () => {
        if (entry.settled) return;
        entry.settled = true;
        const i = this.#pending.indexOf(entry);
        if (i >= 0) this.#pending.splice(i, 1);
        reject(options.signal.reason);
      };
      options.signal.addEventListener("abort", entry.onAbort, { once: true });
      this.#pending.push(entry);
      if (this.#pending.length >= this.#maxItems) {
        this.#flush();
      } else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#flush();
        });
      }
    });
  }

  #flush(): void {
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 1) void this.#single(batch[0]!);
    else if (batch.length > 1) void this.#batch(batch);
  }

  async #single(entry: Pending): Promise<void> {
    try {
      const response = await this.#client.get(entry.path, {
        signal: entry.options.signal,
        mailboxes: [entry.options.mailbox],
        ...(entry.options.headers ? { headers: entry.options.headers } : {}),
      });
      settle(entry, null, { status: response.status, body: response.body, requestId: response.requestId });
    } catch (error) {
      settle(entry, error, null);
    }
  }

  async #batch(batch: Pending[]): Promise<void> {
    // The batch serves callers with different signals: it stops only when all of them have gone.
    const controller = new AbortController();
    const signals = new Set(batch.map((entry) => entry.options.signal));
    let live = signals.size;
    const gone = () => {
      if (--live === 0) controller.abort(new Error("every caller of the batch has gone"));
    };
    for (const signal of signals) signal.addEventListener("abort", gone, { once: true });
    try {
      const responses = await this.#client.batch(
        batch.map((entry, i) => ({
          id: String(i + 1),
          method: "GET" as const,
          url: entry.path,
          mailbox: entry.options.mailbox,
          ...(entry.options.headers ? { headers: entry.options.headers } : {}),
        })),
        controller.signal,
      );
      for (const [i, entry] of batch.entries()) {
        const r = responses[i]!;
        settle(entry, r.error, { status: r.status, body: r.body, requestId: r.headers["request-id"] ?? null });
      }
    } catch (error) {
      // When the batch was aborted, every caller has already been answered.
      for (const entry of batch) settle(entry, error, null);
    } finally {
      for (const signal of signals) signal.removeEventListener("abort", gone);
    }
  }
}

function settle(entry: Pending, error: unknown, response: BatchedResponse | null): void {
  entry.options.signal.removeEventListener("abort", entry.onAbort);
  if (entry.settled) return;
  entry.settled = true;
  if (error !== null && error !== undefined) entry.reject(error);
  else entry.resolve(response!);
}
