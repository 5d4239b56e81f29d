/**
 * A RoomOS device for the otj-join macro, in Node: the `xapi` object the macro imports (commands
 * recorded, events emitted by the test, status and configuration values), the runtime's timers on
 * a manual clock, and `HttpClient Get` answered by a real HTTP request (to the real engine).
 *
 * The macro runs in its own V8 context that has none of Node's globals (no process, Buffer,
 * fetch, require, setTimeout): only what this fake device hands it, as on the device.
 */
import { readFileSync } from "node:fs";
import { createContext, runInContext } from "node:vm";

export const MACRO_PATH = new URL("../../devices/roomos/otj-join.js", import.meta.url);

export interface RecordedCommand {
  path: string;
  params: Record<string, unknown>;
  body?: string;
}

export interface HttpExchange {
  url: string;
  headers: Record<string, string>;
  status: number;
}

type Listener = (event: unknown) => void;
type Handler = (params: Record<string, unknown>, body: string | undefined) => Promise<unknown>;

interface Timer {
  id: number;
  at: number;
  ms: number;
  fn: () => void;
  repeat: boolean;
}

/** The macro runtime's timers on a clock the test moves. */
export class ManualTimers {
  #next = 1;
  readonly #timers = new Map<number, Timer>();
  constructor(readonly now: () => number) {}

  setTimeout = (fn: () => void, ms = 0): number => this.#add(fn, ms, false);
  setInterval = (fn: () => void, ms = 0): number => this.#add(fn, ms, true);
  clearTimeout = (id: number | undefined): void => {
    if (id !== undefined) this.#timers.delete(id);
  };
  clearInterval = this.clearTimeout;

  #add(fn: () => void, ms: number, repeat: boolean): number {
    const id = this.#next++;
    this.#timers.set(id, { id, at: this.now() + Math.max(0, ms), ms: Math.max(1, ms), fn, repeat });
    return id;
  }

  /** Pending one-shot timers: how long after it was set each fires (ms). */
  pendingTimeouts(): number[] {
    return [...this.#timers.values()].filter((t) => !t.repeat).map((t) => t.ms);
  }

  /** Runs every timer due at the clock's time, earliest first (intervals once per call). */
  runDue(): void {
    const due = [...this.#timers.values()].filter((t) => t.at <= this.now()).sort((a, b) => a.at - b.at || a.id - b.id);
    for (const t of due) {
      if (!this.#timers.has(t.id)) continue;
      if (t.repeat) t.at = this.now() + t.ms;
      else this.#timers.delete(t.id);
      t.fn();
    }
  }
}

/** A Date whose "now" is the device clock (the test's manual clock). */
function dateOn(now: () => number): DateConstructor {
  class DeviceDate extends Date {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(now());
      else super(...(args as [string]));
    }
    static override now(): number {
      return now();
    }
  }
  return DeviceDate as unknown as DateConstructor;
}

export class FakeXapi {
  readonly commands: RecordedCommand[] = [];
  readonly http: HttpExchange[] = [];
  readonly logs: string[] = [];
  readonly timers: ManualTimers;
  /** `xapi.Status.*` values by dotted path, e.g. `Call` -> []. */
  readonly status: Record<string, unknown> = { Call: [] };
  /** `xapi.Config.*` values by dotted path. */
  readonly config: Record<string, unknown> = { "HttpClient.Mode": "On" };
  readonly #listeners = new Map<string, Listener[]>();
  readonly #handlers = new Map<string, Handler>();

  constructor(readonly now: () => number) {
    this.timers = new ManualTimers(now);
    this.#handlers.set("HttpClient.Get", (params) => this.#httpGet(params));
  }

  /** Replaces what a command does (default: succeed with {status: "OK"}). */
  onCommand(path: string, handler: Handler): void {
    this.#handlers.set(path, handler);
  }

  /** Fires an event at the macro, e.g. `UserInterface.Extensions.Widget.Action`. */
  emit(path: string, event: unknown): void {
    for (const l of this.#listeners.get(`Event.${path}`) ?? []) l(event);
  }

  commandsOf(path: string): RecordedCommand[] {
    return this.commands.filter((c) => c.path === path);
  }

  /** The last panel XML the macro saved. */
  lastPanel(): string | null {
    const saves = this.commandsOf("UserInterface.Extensions.Panel.Save");
    return saves.at(-1)?.body ?? null;
  }

  /** Button labels and widget ids of the last saved panel. */
  panelButtons(): Array<{ widgetId: string; name: string }> {
    const xml = this.lastPanel() ?? "";
    return [...xml.matchAll(/<Widget><WidgetId>([^<]*)<\/WidgetId><Name>([^<]*)<\/Name><Type>Button<\/Type>/g)].map((m) => ({
      widgetId: unescapeXml(m[1]!),
      name: unescapeXml(m[2]!),
    }));
  }

  /** The object the macro gets as `xapi`. */
  api(): unknown {
    return this.#node("", []);
  }

  #node(kind: string, path: string[]): unknown {
    const dotted = path.join(".");
    const call = (params?: Record<string, unknown>, body?: string): Promise<unknown> => {
      if (kind !== "Command") return Promise.reject(new Error(`xapi.${kind}.${dotted} is not callable`));
      this.commands.push({ path: dotted, params: { ...(params ?? {}) }, ...(body !== undefined ? { body } : {}) });
      const handler = this.#handlers.get(dotted);
      return handler ? handler(params ?? {}, body) : Promise.resolve({ status: "OK" });
    };
    return new Proxy(call, {
      get: (_target, prop) => {
        if (typeof prop !== "string" || prop === "then") return undefined;
        if (kind === "") return this.#node(prop, []);
        if (prop === "on" && (kind === "Event" || kind === "Status")) {
          return (listener: Listener) => {
            const key = `${kind}.${dotted}`;
            this.#listeners.set(key, [...(this.#listeners.get(key) ?? []), listener]);
            return () =>
              this.#listeners.set(
                key,
                (this.#listeners.get(key) ?? []).filter((l) => l !== listener),
              );
          };
        }
        if (prop === "get" && (kind === "Status" || kind === "Config")) {
          const values = kind === "Status" ? this.status : this.config;
          return () => Promise.resolve(values[dotted]);
        }
        if (prop === "set" && kind === "Config") {
          return (value: unknown) => {
            this.config[dotted] = value;
            return Promise.resolve();
          };
        }
        return this.#node(kind, [...path, prop]);
      },
    });
  }

  /**
   * `xCommand HttpClient Get`: `Header` lines "Name: value"; a 2xx resolves with StatusCode,
   * Headers [{Key, Value}] and Body; any other status fails with the same fields in `error.data`.
   */
  async #httpGet(params: Record<string, unknown>): Promise<unknown> {
    const url = String(params.Url);
    const lines = Array.isArray(params.Header) ? (params.Header as unknown[]) : params.Header === undefined ? [] : [params.Header];
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const text = String(line);
      const colon = text.indexOf(":");
      if (colon > 0) headers[text.slice(0, colon).trim().toLowerCase()] = text.slice(colon + 1).trim();
    }
    let response: Response;
    try {
      response = await fetch(url, { headers });
    } catch (error) {
      throw Object.assign(new Error(`HttpClient: ${(error as Error).message}`), { data: {} });
    }
    const body = await response.text();
    this.http.push({ url, headers, status: response.status });
    const data = { StatusCode: String(response.status), Headers: headerList(response.headers), Body: body };
    if (response.status >= 200 && response.status < 300) return { status: "OK", ...data };
    throw Object.assign(new Error(`HttpClient: HTTP ${response.status}`), { data });
  }
}

function headerList(headers: Headers): Array<{ Key: string; Value: string }> {
  const list: Array<{ Key: string; Value: string }> = [];
  headers.forEach((Value, Key) => {
    list.push({ Key, Value });
  });
  return list;
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

export interface MacroSettings {
  otjUrl: string;
  roomId: string;
  deviceToken: string;
  options?: Record<string, unknown>;
}

/**
 * Loads devices/roomos/otj-join.js on the fake device: the configuration constants are set as an
 * installer edits them, and `import xapi from 'xapi'` becomes the fake device's xapi.
 */
export function runMacro(device: FakeXapi, settings: MacroSettings): void {
  let source = readFileSync(MACRO_PATH, "utf8");
  const replace = (pattern: RegExp, value: string) => {
    if (!pattern.test(source)) throw new Error(`the macro no longer has ${pattern}`);
    source = source.replace(pattern, value);
  };
  replace(/^import xapi from 'xapi';$/m, "");
  replace(/^const OTJ_URL = '[^']*';$/m, `const OTJ_URL = ${JSON.stringify(settings.otjUrl)};`);
  replace(/^const ROOM_ID = '[^']*';$/m, `const ROOM_ID = ${JSON.stringify(settings.roomId)};`);
  replace(/^const DEVICE_TOKEN = '[^']*';$/m, `const DEVICE_TOKEN = ${JSON.stringify(settings.deviceToken)};`);
  replace(/^const TICK_SECONDS = /m, "Object.assign(OPTIONS, __options);\nconst TICK_SECONDS = ");
  const console = {
    log: (...args: unknown[]) => device.logs.push(args.map(String).join(" ")),
    error: (...args: unknown[]) => device.logs.push(args.map(String).join(" ")),
  };
  const context = createContext({ console });
  const wrapped = `(function (xapi, setTimeout, clearTimeout, setInterval, clearInterval, Date, __options) { 'use strict';\n${source}\n})`;
  const start = runInContext(wrapped, context, { filename: "otj-join.js" }) as (...args: unknown[]) => void;
  const t = device.timers;
  start(device.api(), t.setTimeout, t.clearTimeout, t.setInterval, t.clearInterval, dateOn(device.now), settings.options ?? {});
}
