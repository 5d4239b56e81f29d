/**
 * Fixtures that live as long as a test file, opened before its tests (vitest's `beforeAll`) and
 * closed after them. Hooks registered later run once these are open (vitest runs before-hooks in
 * order), and later `afterAll` hooks run before these close (after-hooks run in reverse).
 */
import { afterAll, beforeAll } from "vitest";
import { EngineMetrics } from "../../app/metrics.ts";
import { FakeClock } from "./fake-clock.ts";
import { startTestHttpServer, type TestHttpServer } from "./http-server.ts";
import { openTestStore, type TestDatabaseKind, type TestStore } from "./test-database.ts";

/** One test store for the file, read as the store `openTestStore` returns. */
export function testStoreForFile(kind: TestDatabaseKind = "postgres"): TestStore {
  let opened: TestStore | undefined;
  const current = (): TestStore => {
    if (opened === undefined) throw new Error("the file's test store opens in beforeAll");
    return opened;
  };
  beforeAll(async () => {
    opened = await openTestStore(kind);
  });
  afterAll(async () => {
    await opened?.close();
  });
  return {
    kind,
    get handle() {
      return current().handle;
    },
    get store() {
      return current().store;
    },
    get url() {
      return current().url;
    },
    openAnother: (options) => current().openAnother(options),
    truncate: () => current().truncate(),
    close: () => current().close(),
  };
}

/** The engine's HTTP server (no admin token) on `db`, counting in `metrics`, for the file; `app` and `base` once it listens. */
function testHttpServerForFile(db: TestStore, clock: FakeClock, metrics: EngineMetrics): TestHttpServer {
  let started: TestHttpServer | undefined;
  const current = (): TestHttpServer => {
    if (started === undefined) throw new Error("the file's HTTP server starts in beforeAll");
    return started;
  };
  beforeAll(async () => {
    started = await startTestHttpServer(db.store, clock, null, null, metrics);
  });
  afterAll(async () => {
    await started?.app.close();
  });
  return {
    get app() {
      return current().app;
    },
    get base() {
      return current().base;
    },
  };
}

/** A test store, a fake clock at `startIso`, the metrics, and the HTTP server on them, for the file. */
export function servedTestStoreForFile(startIso: string): { db: TestStore; clock: FakeClock; metrics: EngineMetrics; server: TestHttpServer } {
  const db = testStoreForFile();
  const clock = new FakeClock(startIso);
  const metrics = new EngineMetrics();
  return { db, clock, metrics, server: testHttpServerForFile(db, clock, metrics) };
}
