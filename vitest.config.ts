import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // These only end a hung test: tests wait on state, never on wall-clock speed. A loaded 2-core
    // machine runs several times slower than an idle one, so the limits are far above a test's
    // idle duration; tests that do much more work (a whole demo, PGlite directories) set their own.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: "forks",
    maxWorkers: 2,
    // Browser pages navigate and refresh in real time: on a loaded 2-core CI machine a poll may
    // need more than the default second (a real failure still fails, after 60 s).
    expect: { poll: { timeout: 60_000, interval: 100 } },
  },
});
