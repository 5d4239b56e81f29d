/**
 * A competing CPU load for a benchmark: one child process spinning on one core from `start` until
 * `stop`, so a figure measured beside it does not depend on an otherwise idle machine.
 */
import { type ChildProcess, spawn } from "node:child_process";

export class BusyCore {
  readonly #child: ChildProcess;

  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  /** Starts the spinning process and resolves once it runs. */
  static async start(): Promise<BusyCore> {
    const child = spawn(process.execPath, ["-e", "process.stdout.write('spinning\\n'); for (;;) {}"], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      child.once("error", reject);
      child.stdout!.once("data", () => resolve());
    });
    return new BusyCore(child);
  }

  /** Stops the spinning process and waits until it has exited. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    this.#child.kill();
    await exited;
  }
}
