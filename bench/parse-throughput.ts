/**
 * parse-throughput: invites/s on one core over a realistic mix (HTML V3-V5 of 10-40 KB, ICS,
 * MIME), against the bare-scan baseline: one regex pass for Teams URLs over the same bytes.
 * A second baseline runs a naive library pipeline over the same bytes: mailparser for MIME,
 * htmlparser2 to text (and hrefs), then one regex per provider; otj must stay >= 2x faster while
 * reading more (wrappers, labels, CVI, passcodes).
 * Rates are per second of this process's CPU time, so other load on the machine does not count.
 */
import { Parser } from "htmlparser2";
import { simpleParser } from "mailparser";
import { parseInvite } from "../parser/index.ts";
import { teamsEml, teamsHtmlV3, teamsHtmlV4, teamsHtmlV5, teamsIcs } from "../emulators/invite-factory.ts";
import { cpuSeconds, median, report } from "./report.ts";

function corpus(): Array<{ data: string; format: "html" | "ics" | "eml" }> {
  const items: Array<{ data: string; format: "html" | "ics" | "eml" }> = [];
  for (let i = 0; i < 60; i++) {
    const spec = {
      threadKey: `bench-${i}`,
      meetingId: `3571592468${String(10000 + i)}`,
      passcode: "Hk4mN8pQ",
      ...(i % 2 ? { cvi: { tenantKey: "contoso@m.webex.com", videoId: "1182453796" } } : {}),
    };
    const pad = 10_000 + ((i * 7919) % 30_000);
    const ev = { uid: `0400000082${i}`, subject: `Review ${i}`, start: "2025-03-04T09:00:00.000Z", end: "2025-03-04T10:00:00.000Z" };
    switch (i % 5) {
      case 0:
        items.push({ data: teamsHtmlV3(spec, pad), format: "html" });
        break;
      case 1:
        items.push({ data: teamsHtmlV4(spec, pad), format: "html" });
        break;
      case 2:
        items.push({ data: teamsHtmlV5(spec, pad), format: "html" });
        break;
      case 3:
        items.push({ data: teamsIcs(ev, spec, `Agenda\n${"Discuss the plan. ".repeat(100)}\nJoin the meeting now <https://x>`), format: "ics" });
        break;
      default:
        items.push({ data: teamsEml(ev, spec, pad / 2), format: "eml" });
    }
  }
  return items;
}

/** One regex per provider: what a first attempt at "find the meeting link" looks like. */
const PROVIDER_PATTERNS: RegExp[] = [
  /https:\/\/teams\.microsoft\.com\/l\/meetup-join\/[^\s"<>]+/g,
  /https:\/\/teams\.microsoft\.com\/meet\/\d+\?p=[^\s"<>]+/g,
  /https:\/\/[a-z0-9.-]*zoom\.us\/j\/\d+[^\s"<>]*/g,
  /https:\/\/[a-z0-9-]+\.webex\.com\/[^\s"<>]+/g,
  /https:\/\/meet\.google\.com\/[a-z]{3}-[a-z]{4}-[a-z]{3}/g,
  /https:\/\/(?:global\.gotomeeting\.com\/join|meet\.goto\.com)\/\d{9}/g,
  /https:\/\/(?:app\.)?chime\.aws\/(?:meetings\/)?\d{10}/g,
  /https:\/\/bluejeans\.com\/\d+/g,
];

/** HTML to visible text plus every href, with htmlparser2's streaming parser. */
function htmlToText(html: string): string {
  let out = "";
  const parser = new Parser({
    onopentag(_name, attribs) {
      if (attribs.href) out += ` ${attribs.href} `;
    },
    ontext(text) {
      out += text;
    },
  });
  parser.write(html);
  parser.end();
  return out;
}

/** The naive library pipeline: MIME with mailparser, HTML with htmlparser2, one regex per provider. */
async function libraryPipeline(data: Buffer, format: "html" | "ics" | "eml"): Promise<number> {
  let text: string;
  if (format === "eml") {
    const mail = await simpleParser(data, { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true });
    text = (typeof mail.html === "string" ? htmlToText(mail.html) : "") + (mail.text ?? "");
  } else if (format === "html") {
    text = htmlToText(data.toString("utf8"));
  } else {
    text = data
      .toString("utf8")
      .replace(/\r?\n[ \t]/g, "")
      .replace(/\\n/g, "\n");
  }
  let found = 0;
  for (const re of PROVIDER_PATTERNS) {
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) found += m[0].length;
  }
  return found;
}

export async function benchParseThroughput(): Promise<void> {
  const items = corpus();
  const buffers = items.map((i) => Buffer.from(i.data));
  // Warm up JIT and caches.
  for (let r = 0; r < 3; r++) for (const b of buffers) await parseInvite(b);

  const parseRates: number[] = [];
  for (let round = 0; round < 5; round++) {
    const t0 = cpuSeconds();
    let n = 0;
    while (cpuSeconds() - t0 < 1) {
      for (const b of buffers) {
        await parseInvite(b);
        n++;
      }
    }
    parseRates.push(n / (cpuSeconds() - t0));
  }

  const scan = /https:\/\/teams\.microsoft\.com\/l\/meetup-join\/[^\s"<>]+/g;
  const scanRates: number[] = [];
  let sink = 0;
  for (let round = 0; round < 5; round++) {
    const t0 = cpuSeconds();
    let n = 0;
    while (cpuSeconds() - t0 < 0.5) {
      for (const b of buffers) {
        const text = b.toString("utf8");
        scan.lastIndex = 0;
        for (let m = scan.exec(text); m !== null; m = scan.exec(text)) sink += m[0].length;
        n++;
      }
    }
    scanRates.push(n / (cpuSeconds() - t0));
  }
  // The library pipeline over the same bytes.
  for (let r = 0; r < 2; r++) for (let i = 0; i < buffers.length; i++) sink += await libraryPipeline(buffers[i]!, items[i]!.format);
  const libraryRates: number[] = [];
  for (let round = 0; round < 5; round++) {
    const t0 = cpuSeconds();
    let n = 0;
    while (cpuSeconds() - t0 < 1) {
      for (let i = 0; i < buffers.length; i++) {
        sink += await libraryPipeline(buffers[i]!, items[i]!.format);
        n++;
      }
    }
    libraryRates.push(n / (cpuSeconds() - t0));
  }
  if (sink < 0) console.error(sink);
  const value = median(parseRates);
  const baseline = median(scanRates);
  const bytes = buffers.reduce((s, b) => s + b.length, 0) / buffers.length;
  report({ bench: "parse-throughput", metric: "invites-per-second", value, unit: "invites/s", baseline, ratio: value / baseline });
  const library = median(libraryRates);
  report({ bench: "parse-throughput", metric: "vs-library-pipeline", value, unit: "invites/s", baseline: library, ratio: value / library });
  report({ bench: "parse-throughput", metric: "mean-invite-bytes", value: bytes, unit: "bytes", baseline: null, ratio: null });
}
