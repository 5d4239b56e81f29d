/**
 * A benchmark's helper process: the bench forks its own file with OTJ_BENCH_ROLE set, and that
 * child answers the bench's requests over IPC. Emulators run there, as the systems they stand
 * for run elsewhere: their CPU and memory are not the engine's.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROLE_VARIABLE = "OTJ_BENCH_ROLE";

/** True in the child process started for `role`. */
export function isBenchChild(role: string): boolean {
  return process.env[ROLE_VARIABLE] === role && process.send !== undefined;
}

/**
 * The child side: answers every request with `handle`; after the request `isLast` says ends the
 * session, closes the IPC channel so the process can exit.
 */
export function serveBenchChild<Request>(handle: (request: Request) => Promise<unknown>, isLast: (request: Request) => boolean): void {
  process.on("message", (message: { id: number; request: Request }) => {
    handle(message.request).then(
      (result) => {
        process.send!({ id: message.id, result: result ?? null });
        if (isLast(message.request)) process.disconnect();
      },
      (error: unknown) => process.send!({ id: message.id, error: String(error) }),
    );
  });
}

/** The bench side: the child process running `moduleUrl` in `role`, and calls to it. */
export class BenchChild<Request> {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  #next = 0;

  /** @param moduleUrl the bench's `import.meta.url`: the file that serves when started in `role`. */
  constructor(moduleUrl: string, role: string) {
    this.#child = fork(fileURLToPath(moduleUrl), [], {
      // A compiled benchmark (dist/) starts its child compiled; the sources need tsx.
      execArgv: moduleUrl.endsWith(".ts") ? ["--import", import.meta.resolve("tsx")] : [],
      env: { ...process.env, [ROLE_VARIABLE]: role },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    this.#child.on("message", (m: { id: number; result?: unknown; error?: string }) => {
      const pending = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.error !== undefined) pending?.reject(new Error(m.error));
      else pending?.resolve(m.result);
    });
    this.#child.on("exit", (code) => {
      for (const pending of this.#pending.values()) pending.reject(new Error(`the ${role} process exited (${code})`));
      this.#pending.clear();
    });
  }

  call<T>(request: Request): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      // A child that died already answers nothing: fail at once rather than wait forever.
      if (this.#child.exitCode !== null || this.#child.signalCode !== null || !this.#child.connected) {
        reject(new Error(`the bench's helper process is gone (exit ${this.#child.exitCode ?? this.#child.signalCode})`));
        return;
      }
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#child.send({ id, request }, (error) => {
        if (error === null || !this.#pending.has(id)) return;
        this.#pending.delete(id);
        reject(error);
      });
    });
  }

  /** Sends the last request (the child cleans up and disconnects), then makes sure it is gone. */
  async close(last: Request): Promise<void> {
    await this.call(last).catch(() => null);
    if (this.#child.exitCode === null) this.#child.kill();
  }
}
