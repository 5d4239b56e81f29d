import pg from "pg";
import { describe, expect, it } from "vitest";
import { parseTimestamptz, TIMESTAMPTZ_OID } from "../../store/pg-timestamp.ts";

const reference = pg.types.getTypeParser(TIMESTAMPTZ_OID, "text") as (value: string) => Date | number | null;
const same = (s: string) => {
  const ours = parseTimestamptz(s);
  const theirs = reference(s);
  return { s, ours: ours instanceof Date ? ours.getTime() : ours, theirs: theirs instanceof Date ? theirs.getTime() : theirs };
};

describe("parseTimestamptz", () => {
  it("reads PostgreSQL's timestamptz text as pg's default parser does", () => {
    const cases = [
      "2026-11-25 05:01:02+00",
      "2026-11-25 05:01:02.1+00",
      "2026-11-25 05:01:02.12+00",
      "2026-11-25 05:01:02.123+00",
      "2026-11-25 05:01:02.123456+00",
      "2026-11-25 05:01:02.999999+00",
      "2026-11-25 05:01:02.5+05:30",
      "2026-11-25 05:01:02-03:30",
      "2026-11-25 05:01:02+14",
      "2026-11-25 05:01:02-12",
      "1970-01-01 00:00:00+00",
      "1601-01-01 00:00:00+00",
      "9999-12-31 23:59:59.999+00",
    ];
    for (const c of cases) {
      const r = same(c);
      expect(r.ours, c).toBe(r.theirs);
      expect(typeof r.ours, c).toBe("number");
    }
    expect(parseTimestamptz("2026-11-25 05:01:02.123+00")).toEqual(new Date("2026-11-25T05:01:02.123Z"));
    expect(parseTimestamptz("2026-11-25 05:01:02-03:30")).toEqual(new Date("2026-11-25T08:31:02.000Z"));
  });

  it("leaves the rare forms to the default parser", () => {
    for (const c of [
      "infinity",
      "-infinity",
      "0050-01-01 00:00:00+00",
      "2000-01-01 00:00:00+00 BC",
      "1850-01-01 00:00:00+00:53:28",
      "2026-11-25 05:01:02.+00",
    ]) {
      const r = same(c);
      expect(r.ours, c).toEqual(r.theirs);
    }
  });

  it("matches the default parser on random instants and offsets", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pad = (n: number, w = 2) => String(n).padStart(w, "0");
    for (let k = 0; k < 2000; k++) {
      const d = new Date(Math.floor(random() * 4e12));
      const micros = Math.floor(random() * 1e6);
      const fraction = random() < 0.2 ? "" : `.${pad(micros, 6).slice(0, 1 + Math.floor(random() * 6))}`;
      const offH = Math.floor(random() * 14);
      const offM = [0, 30, 45][Math.floor(random() * 3)]!;
      const offset = `${random() < 0.5 ? "+" : "-"}${pad(offH)}${offM ? `:${pad(offM)}` : ""}`;
      const text = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${fraction}${offset}`;
      const r = same(text);
      expect(r.ours, text).toBe(r.theirs);
    }
  });
});
