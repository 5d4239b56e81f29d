import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
    // Browser pages navigate and refresh in real time: on a loaded 2-core CI machine a poll may
    // need more than the default second (a real failure still fails, after 15 s).
    expect: { poll: { timeout: 15_000, interval: 100 } },
  },
});
