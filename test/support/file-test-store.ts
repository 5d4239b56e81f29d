/**
 * One PostgreSQL test store for a whole test file: opened before its tests (vitest's `beforeAll`)
 * and closed after them. The file reads it as it would the store `openTestStore` returns; the
 * file's own `beforeAll` hooks, registered after this call, run once it is open, and its own
 * `afterAll` hooks run before it closes.
 */
import { afterAll, beforeAll } from "vitest";
import { openTestStore, type TestDatabaseKind, type TestStore } from "./test-database.ts";

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
