/**
 * The PGlite directory lock (no PGlite is opened here): one holder at a time, stale locks of dead
 * processes are taken over, locks from another host are respected.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OtjError } from "../../core/errors.ts";
import { LOCK_FILE_NAME, acquirePgliteLock } from "../../store/pglite-lock.ts";

/** Above Linux's largest pid (2^22), so never a live process. */
const DEAD_PID = 2 ** 22 + 1;

describe("PGlite directory lock", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "otj-lock-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const lockedBy = (): OtjError => {
    try {
      acquirePgliteLock(dir);
    } catch (error) {
      if (error instanceof OtjError) return error;
      throw error;
    }
    throw new Error("expected OTJ_STORE_LOCKED");
  };

  it("writes the holder's pid, refuses a second holder, and frees the directory on release", () => {
    const release = acquirePgliteLock(dir);
    const content = JSON.parse(readFileSync(join(dir, LOCK_FILE_NAME), "utf8")) as { pid: number; host: string };
    expect(content).toMatchObject({ pid: process.pid, host: hostname() });
    const error = lockedBy();
    expect(error.code).toBe("OTJ_STORE_LOCKED");
    expect(error.exitCode).toBe(1);
    expect(error.message).toContain(`in use by process ${process.pid}`);
    release();
    release();
    expect(existsSync(join(dir, LOCK_FILE_NAME))).toBe(false);
    acquirePgliteLock(dir)();
  });

  it("takes over the lock of a dead process", () => {
    writeFileSync(join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: DEAD_PID, host: hostname(), since: "2025-01-01T00:00:00Z" }));
    const release = acquirePgliteLock(dir);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE_NAME), "utf8")).pid).toBe(process.pid);
    release();
  });

  it("takes over an unreadable lock (a crash while writing it)", () => {
    writeFileSync(join(dir, LOCK_FILE_NAME), "");
    acquirePgliteLock(dir)();
  });

  it("respects a lock from another host, since its process cannot be checked", () => {
    writeFileSync(join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: DEAD_PID, host: "elsewhere", since: "2025-01-01T00:00:00Z" }));
    const error = lockedBy();
    expect(error.message).toContain("on elsewhere");
    expect(error.message).toContain(`delete ${join(dir, LOCK_FILE_NAME)}`);
  });
});
