/**
 * One process at a time per PGlite directory. PGlite is a single-user PostgreSQL: two processes
 * opening one directory corrupt it. The holder writes `otj.lock` (its pid and host) into the
 * directory; a lock whose pid is dead on this host is stale and taken over.
 */
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { OtjError } from "../core/errors.ts";

export const LOCK_FILE_NAME = "otj.lock";

interface LockContent {
  pid: number;
  host: string;
  since: string;
}

/** Lock files this process holds, removed at exit even if nobody closes the store. */
const held = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const path of held) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone: nothing to release.
      }
    }
  });
}

function readLock(path: string): LockContent | null {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<LockContent>;
    if (typeof parsed.pid !== "number") return null;
    return { pid: parsed.pid, host: String(parsed.host ?? ""), since: String(parsed.since ?? "") };
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether the lock's holder may still be running (unknowable for another host: assume so). */
function holderAlive(content: LockContent, path: string): boolean {
  if (content.host !== hostname()) return true;
  if (content.pid === process.pid) return held.has(path);
  return processAlive(content.pid);
}

function lockedError(dir: string, path: string, content: LockContent | null): OtjError {
  const who = content === null ? "another process" : `process ${content.pid} on ${content.host} (since ${content.since})`;
  return new OtjError(
    "OTJ_STORE_LOCKED",
    `the embedded database ${dir} is in use by ${who}, probably \`otj run\`. ` +
      "Use the running engine's HTTP API, stop it first, or point --database-url (or DATABASE_URL) at PostgreSQL. " +
      `If no otj runs there, delete ${path}.`,
    { details: { dir, holderPid: content?.pid ?? null } },
  );
}

/**
 * Takes the directory's lock or throws OTJ_STORE_LOCKED. The directory must exist. Returns the
 * release function (idempotent).
 */
export function acquirePgliteLock(dir: string): () => void {
  const path = join(dir, LOCK_FILE_NAME);
  const mine: LockContent = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx");
      try {
        writeSync(fd, JSON.stringify(mine));
      } finally {
        closeSync(fd);
      }
      installExitHook();
      held.add(path);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        held.delete(path);
        try {
          unlinkSync(path);
        } catch {
          // Already gone.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const content = readLock(path);
    if (content !== null && holderAlive(content, path)) throw lockedError(dir, path, content);
    // Stale (or unreadable after a crash mid-write): move it aside, and make sure what we moved
    // is the stale lock we judged, not a lock another process took in the meantime.
    const aside = `${path}.stale-${randomBytes(4).toString("hex")}`;
    try {
      renameSync(path, aside);
    } catch {
      continue;
    }
    const moved = readLock(aside);
    if (moved !== null && content !== null && moved.pid !== content.pid) {
      try {
        renameSync(aside, path);
      } catch {
        // Best effort: the fresh holder keeps running; our next attempt sees its lock or none.
      }
      throw lockedError(dir, path, moved);
    }
    try {
      unlinkSync(aside);
    } catch {
      // Gone already.
    }
  }
  throw lockedError(dir, path, readLock(path));
}
