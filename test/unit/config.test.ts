import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Config, configKeys, envNameOf, loadConfig, publicUrlOf, resolveConfig } from "../../core/config.ts";
import { OtjError } from "../../core/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "otj-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function resolve(file: unknown, env: Record<string, string> = {}, overrides?: { databaseUrl?: string }): Config {
  return resolveConfig(file, { env, cwd: dir, source: "otj.json", ...(overrides ? { overrides } : {}) });
}

function problemOf(run: () => unknown): { code: string; message: string; exitCode: number } {
  try {
    run();
  } catch (error) {
    if (error instanceof OtjError) return { code: error.code, message: error.message, exitCode: error.exitCode };
    throw error;
  }
  throw new Error("expected a configuration error");
}

function valueAt(config: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config);
}

describe("configuration defaults", () => {
  it("gives every key its documented default with no file and no environment", () => {
    const config = resolve({});
    expect(config.poll).toEqual({
      intervalSeconds: 60,
      windowPastHours: 24,
      windowFutureDays: 7,
      maxInFlightPerMailbox: 4,
      maxInFlight: 50,
      maxPagesPerRound: 500,
      roundBudgetSeconds: 120,
    });
    expect(config.http).toEqual({
      host: "0.0.0.0",
      port: 8080,
      adminToken: null,
      publicUrl: null,
      trustProxy: null,
      requestTimeoutSeconds: 30,
      headersTimeoutSeconds: 10,
      keepAliveTimeoutSeconds: 5,
      maxHeaderBytes: 16_384,
      maxConnections: 1_000,
      metricsToken: null,
      ewsRateLimit: 60,
      ewsDialStringIn: "location",
      timeZone: "UTC",
      oidc: { issuer: null, clientId: null, clientSecret: null, rolesClaim: "roles", roles: {} },
    });
    expect(config.alarms).toEqual({ pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3, ewsFetchStaleMinutes: 60, pullStaleMinutes: 30 });
    expect(config.retention).toEqual({ bridgeSessionsDays: 30, eventLogDays: 90, meetingsDays: 90, alarmsDays: 90, schedule: "0 17 3 * * *" });
    expect(config.join).toEqual({ startBufferMinutes: 5, endBufferMinutes: 0, rules: [] });
    expect(config.bridge).toMatchObject({ adapter: null, leadSeconds: 120, lobbyTimeoutSeconds: 900, lateStartSeconds: 300, endGraceSeconds: 0 });
    expect(config.shutdown.graceSeconds).toBe(10);
    expect(config.database.url).toBeNull();
    expect(config.graph).toMatchObject({ cloud: "global", baseUrl: "https://graph.microsoft.com", authorityUrl: "https://login.microsoftonline.com" });
    expect(config.graph.notifications.enabled).toBe(false);
    for (const key of configKeys()) {
      if (key.path === "graph.baseUrl" || key.path === "graph.authorityUrl") continue;
      expect(valueAt(config, key.path), key.path).toEqual(key.defaultValue);
    }
  });

  it("is deeply frozen", () => {
    const config = resolve({ join: { rules: [{ id: "a" }] } });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.bridge.http)).toBe(true);
    expect(Object.isFrozen(config.join.rules)).toBe(true);
    expect(() => {
      (config.poll as { intervalSeconds: number }).intervalSeconds = 1;
    }).toThrow(TypeError);
  });

  it("derives Graph URLs from the cloud, keeps overrides without a trailing slash, and builds the public URL", () => {
    expect(resolve({ graph: { cloud: "gcch" } }).graph).toMatchObject({
      baseUrl: "https://graph.microsoft.us",
      authorityUrl: "https://login.microsoftonline.us",
    });
    expect(resolve({ graph: { cloud: "china" } }).graph.baseUrl).toBe("https://microsoftgraph.chinacloudapi.cn");
    const emulator = resolve({ graph: { baseUrl: "http://127.0.0.1:4010/", authorityUrl: "http://localhost:4010" } });
    expect(emulator.graph).toMatchObject({ baseUrl: "http://127.0.0.1:4010", authorityUrl: "http://localhost:4010" });
    expect(publicUrlOf(resolve({}).http, 43123)).toBe("http://127.0.0.1:43123");
    expect(publicUrlOf(resolve({ http: { publicUrl: "https://otj.contoso.example/" } }).http, 1)).toBe("https://otj.contoso.example");
  });
});

describe("environment overrides", () => {
  it("maps key paths to OTJ_ names with __ between levels", () => {
    expect(envNameOf("bridge.http.hmacSecret")).toBe("OTJ_BRIDGE__HTTP__HMAC_SECRET");
    expect(envNameOf("poll.maxInFlightPerMailbox")).toBe("OTJ_POLL__MAX_IN_FLIGHT_PER_MAILBOX");
    expect(envNameOf("graph.certificate.path")).toBe("OTJ_GRAPH__CERTIFICATE__PATH");
    expect(new Set(configKeys().map((k) => k.env)).size).toBe(configKeys().length);
  });

  it("overrides the file with typed values", () => {
    const config = resolve(
      { poll: { intervalSeconds: 30 }, bridge: { adapter: "http", http: { baseUrl: "https://bridge.example" } } },
      {
        OTJ_POLL__INTERVAL_SECONDS: "15",
        OTJ_GRAPH__NOTIFICATIONS__ENABLED: "true",
        OTJ_HTTP__PUBLIC_URL: "https://otj.contoso.example",
        OTJ_BRIDGE__HTTP__HMAC_SECRET: "hmac-from-env",
        OTJ_JOIN__RULES: '[{"id":"x","priority":5}]',
        OTJ_CONFIG: "ignored here",
      },
    );
    expect(config.poll.intervalSeconds).toBe(15);
    expect(config.graph.notifications.enabled).toBe(true);
    expect(config.bridge.http).toMatchObject({ baseUrl: "https://bridge.example", hmacSecret: "hmac-from-env" });
    expect(config.join.rules).toEqual([{ id: "x", priority: 5 }]);
  });

  it("reads <NAME>_FILE values from files, and refuses both forms at once", () => {
    const secret = join(dir, "secret.txt");
    writeFileSync(secret, "from-a-file\n");
    expect(resolve({}, { OTJ_GRAPH__CLIENT_SECRET_FILE: secret }).graph.clientSecret).toBe("from-a-file");
    expect(resolve({}, { OTJ_DEVICES__CA_FILE: "/etc/ca.pem" }).devices.caFile).toBe("/etc/ca.pem");
    const both = problemOf(() => resolve({}, { OTJ_GRAPH__CLIENT_SECRET: "a", OTJ_GRAPH__CLIENT_SECRET_FILE: secret }));
    expect(both.message).toContain("both OTJ_GRAPH__CLIENT_SECRET and OTJ_GRAPH__CLIENT_SECRET_FILE");
    const missing = problemOf(() => resolve({}, { OTJ_HTTP__ADMIN_TOKEN_FILE: join(dir, "nope") }));
    expect(missing).toMatchObject({ code: "OTJ_CONFIG_SECRET_FILE", exitCode: 2 });
    expect(missing.message).toContain("OTJ_HTTP__ADMIN_TOKEN_FILE names");
  });

  it("orders database URLs: override > OTJ_DATABASE__URL > DATABASE_URL > file", () => {
    const file = { database: { url: "postgres://file/db" } };
    expect(resolve(file).database.url).toBe("postgres://file/db");
    expect(resolve(file, { DATABASE_URL: "postgres://env/db" }).database.url).toBe("postgres://env/db");
    expect(resolve(file, { DATABASE_URL: "postgres://env/db", OTJ_DATABASE__URL: "postgres://otj/db" }).database.url).toBe("postgres://otj/db");
    expect(resolve(file, { OTJ_DATABASE__URL: "postgres://otj/db" }, { databaseUrl: "memory://" }).database.url).toBe("memory://");
  });

  it("names an unknown OTJ_ variable and a badly typed value", () => {
    const unknown = problemOf(() => resolve({}, { OTJ_POLL__INTERVAL_SECOND: "5" }));
    expect(unknown).toMatchObject({ code: "OTJ_CONFIG_INVALID", exitCode: 2 });
    expect(unknown.message).toContain("OTJ_POLL__INTERVAL_SECOND: unknown configuration variable (did you mean OTJ_POLL__INTERVAL_SECONDS?)");
    expect(problemOf(() => resolve({}, { OTJ_HTTP__PORT: "eighty" })).message).toContain("http.port (from OTJ_HTTP__PORT): expected a number");
    expect(problemOf(() => resolve({}, { OTJ_GRAPH__NOTIFICATIONS__ENABLED: "maybe" })).message).toContain("expected true or false");
    expect(problemOf(() => resolve({}, { OTJ_JOIN__RULES: "[" })).message).toContain("join.rules (from OTJ_JOIN__RULES): expected JSON");
    expect(problemOf(() => resolve({}, { OTJ_BRIDGE__LEAD_SECONDS: "9999" })).message).toContain("bridge.leadSeconds (from OTJ_BRIDGE__LEAD_SECONDS)");
  });
});

describe("validation errors name the key and what was expected", () => {
  const cases: Array<[string, unknown, string]> = [
    ["unknown top-level key", { pol: {} }, "pol: unknown key (did you mean poll?)"],
    ["unknown nested key", { bridge: { http: { hmacSecrt: "x" } } }, "bridge.http.hmacSecrt: unknown key (did you mean bridge.http.hmacSecret?)"],
    ["wrong type", { http: { port: "8080" } }, "http.port: expected number, received string"],
    ["below minimum", { poll: { intervalSeconds: 0 } }, "poll.intervalSeconds: expected number to be >=1"],
    ["above maximum", { join: { startBufferMinutes: 181 } }, "join.startBufferMinutes: expected number to be <=180"],
    ["not an integer", { bridge: { leadSeconds: 1.5 } }, "bridge.leadSeconds: expected int"],
    ["bad enum", { graph: { cloud: "mars" } }, "graph.cloud"],
    ["plain http Graph", { graph: { baseUrl: "http://graph.example.com" } }, "graph.baseUrl: expected an https:// URL (http:// only on loopback)"],
    ["bad database URL", { database: { url: "mysql://x" } }, "database.url: expected postgres://…, postgresql://…, pglite:///absolute/dir or memory://"],
    ["relative pglite dir", { database: { url: "pglite://relative/dir" } }, "database.url"],
    ["http bridge without its settings", { bridge: { adapter: "http" } }, 'bridge.http.baseUrl: required when bridge.adapter is "http"'],
    [
      "notifications without https",
      { graph: { notifications: { enabled: true } } },
      "graph.notifications.enabled: change notifications need an https:// http.publicUrl",
    ],
    ["half a certificate", { graph: { certificate: { path: "/x.pem" } } }, "graph.certificate: expected both path and thumbprint, or neither"],
    ["short secrets key", { secrets: { key: "short" } }, "secrets.key: expected at least 16 characters"],
    ["rules not an array", { join: { rules: {} } }, "join.rules: expected array"],
    ["short admin token", { http: { adminToken: "a".repeat(31) } }, "http.adminToken: expected at least 32 characters"],
    ["trustProxy not addresses", { http: { trustProxy: "true" } }, "http.trustProxy: expected IP addresses or CIDR ranges separated by commas"],
    ["trustProxy bad CIDR", { http: { trustProxy: "10.0.0.0/33" } }, "http.trustProxy"],
    ["bad prune schedule", { retention: { schedule: "every night" } }, "retention.schedule: expected a cron expression"],
    ["meetings kept shorter than a poll window", { retention: { meetingsDays: 7 } }, "retention.meetingsDays"],
    ["no alarm at zero failures", { alarms: { pollFailuresBeforeAlarm: 0 } }, "alarms.pollFailuresBeforeAlarm"],
    ["not an object", [], "expected a JSON object at the top level"],
  ];
  for (const [name, file, expected] of cases) {
    it(name, () => {
      const problem = problemOf(() => resolve(file));
      expect(problem).toMatchObject({ code: "OTJ_CONFIG_INVALID", exitCode: 2 });
      expect(problem.message).toContain("invalid configuration (otj.json)");
      expect(problem.message).toContain(expected);
    });
  }

  it("lists every problem at once and never echoes values", () => {
    const problem = problemOf(() => resolve({ http: { adminToken: 12345678 }, poll: { intervalSeconds: -1 }, zzz: 1 }));
    expect(problem.message.split("\n  - ").length).toBe(4);
    expect(problem.message).not.toContain("12345678");
  });
});

describe("loadConfig", () => {
  it("reads a JSON file (with a BOM), a JS module, or OTJ_CONFIG", async () => {
    writeFileSync(join(dir, "a.json"), '\uFEFF{"poll":{"intervalSeconds":7}}');
    expect((await loadConfig({ file: "a.json", env: {}, cwd: dir })).poll.intervalSeconds).toBe(7);
    writeFileSync(join(dir, "b.mjs"), "export default { http: { port: 0 } };\n");
    expect((await loadConfig({ file: join(dir, "b.mjs"), env: {}, cwd: dir })).http.port).toBe(0);
    expect((await loadConfig({ env: { OTJ_CONFIG: "a.json" }, cwd: dir })).poll.intervalSeconds).toBe(7);
    expect((await loadConfig({ env: {}, cwd: dir })).poll.intervalSeconds).toBe(60);
  });

  it("names the place of a JSON syntax error but never quotes the file (it may hold secrets)", async () => {
    const cases: Array<[string, string]> = [
      ['{\n  "http": {\n    "adminToken": s3cr3t-value-0123456789abcdef0123\n  }\n}\n', "line 3, column 19"],
      ['{"http": {"adminToken": "s3cr3t-value"},}', "line 1, column 41"],
      ['{"http": {"adminToken": "s3cr3t-value\n"}}', "line 1, column 38"],
      ['{"http": {"adminToken": "s3cr3t-value"', "line 1, column 39"],
    ];
    for (const [text, place] of cases) {
      writeFileSync(join(dir, "secret.json"), text);
      const error = await loadConfig({ file: "secret.json", env: {}, cwd: dir }).then(
        () => null,
        (e: unknown) => e as OtjError,
      );
      expect(error?.code).toBe("OTJ_CONFIG_INVALID");
      expect(error?.message).toContain(`secret.json is not valid JSON at ${place}`);
      expect(error?.message).not.toMatch(/s3cr3t|adminToken/);
      expect(String(error?.cause ?? "")).not.toContain("s3cr3t");
    }
  });

  it("names the file when it is missing or not JSON, and keys by the file", async () => {
    writeFileSync(join(dir, "broken.json"), '{"poll": ');
    await expect(loadConfig({ file: "broken.json", env: {}, cwd: dir })).rejects.toThrow(/broken\.json is not valid JSON/);
    await expect(loadConfig({ file: "absent.json", env: {}, cwd: dir })).rejects.toThrow(/cannot read configuration file .*absent\.json: ENOENT/);
    writeFileSync(join(dir, "unknown.json"), '{"poll":{"every":1}}');
    await expect(loadConfig({ file: "unknown.json", env: {}, cwd: dir })).rejects.toThrow(
      /invalid configuration \(unknown\.json\):\n {2}- poll\.every: unknown key/,
    );
  });
});

describe("http.timeZone", () => {
  it("defaults to UTC, takes an IANA name from the file or the environment, and refuses an unknown one", () => {
    expect(resolve({}).http.timeZone).toBe("UTC");
    expect(resolve({ http: { timeZone: "Europe/Berlin" } }).http.timeZone).toBe("Europe/Berlin");
    expect(resolve({}, { OTJ_HTTP__TIME_ZONE: "America/New_York" }).http.timeZone).toBe("America/New_York");
    expect(() => resolve({ http: { timeZone: "Mars/Olympus" } })).toThrow(/http\.timeZone/);
  });
});
