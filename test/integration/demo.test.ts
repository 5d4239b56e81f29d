/** `otj demo` runs the real engine through a morning and shows every path a room admin cares about. */
import { describe, expect, it } from "vitest";
import { runDemo } from "../../app/demo.ts";

describe("otj demo", () => {
  it("shows CVI, SGJ (admitted, denied, nobody admitted), direct, private, cancelled and moved meetings, and what a Poly room reads over EWS", async () => {
    // With --serve: the console answers on the demo's data until the demo is told to stop.
    let stop = () => {};
    const until = new Promise<void>((resolve) => {
      stop = resolve;
    });
    // Resolved by the demo's own output line: a wait on state, not on time.
    let printed = "";
    let announced = (_: { url: string; token: string }) => {};
    const consoleUrl = new Promise<{ url: string; token: string }>((resolve) => {
      announced = resolve;
    });
    const served = runDemo(
      (text) => {
        printed += text;
        const m = /Admin console: (http:\/\/127\.0\.0\.1:\d+\/admin) +\(admin token: ([0-9a-f]+)\)/.exec(printed);
        if (m) announced({ url: m[1]!, token: m[2]! });
      },
      { serve: { port: 0, until } },
    );
    const first = await Promise.race([consoleUrl, served.then((r) => ({ ended: r.output }))]);
    if ("ended" in first) throw new Error(`the demo ended before serving its console: ${first.ended}`);
    const { url, token } = first;
    const signIn = await fetch(`${url}/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token }).toString(),
      redirect: "manual",
    });
    expect(signIn.status).toBe(303);
    const cookie = (signIn.headers.get("set-cookie") ?? "").split(";")[0]!;
    const rooms = await (await fetch(`${url}/rooms`, { headers: { cookie } })).text();
    expect(rooms).toContain("6 rooms");
    expect(rooms).toContain("boardroom@contoso.example");
    const sessions = (await (await fetch(`${url}/sessions.json`, { headers: { cookie } })).json()) as { sessions: Array<{ state: string }> };
    expect(sessions.sessions.map((s) => s.state).sort()).toEqual(["denied", "ended", "timeout"]);
    stop();
    const { output, ok } = await served;
    expect(ok).toBe(true);
    const line = (text: string) => output.split("\n").find((l) => l.includes(text)) ?? "";
    expect(line("Weekly sales sync")).toMatch(/cvi +1198563286\.contoso@m\.webex\.com +pushed/);
    // A Google Workspace room and an Exchange Server room, read through their own sources.
    expect(line("Design sync (Teams add-on)")).toMatch(/cvi +1198563286\.contoso@m\.webex\.com +pull API/);
    expect(line("Plant review")).toMatch(/cvi +1198563286\.contoso@m\.webex\.com +pull API/);
    expect(output).toMatch(/Huddle \(Google\) <c_huddle@resource\.calendar\.contoso\.example> +calendar: google/);
    expect(output).toMatch(/Room 201 \(Exchange Server\) <room201@contoso\.example> +calendar: ews/);
    expect(line("Supplier review")).toMatch(/sgj +sgj_[0-9a-f]{12}@sgj\.contoso\.example +pushed .*lobby -> admitted -> ended/);
    expect(line("Partner call")).toMatch(/sgj +sgj_[0-9a-f]{12}@sgj\.contoso\.example +pushed .*lobby -> denied/);
    expect(output).not.toContain(".invalid");
    expect(line("Board pre-read")).toMatch(/sgj .*pull API .*lobby -> timeout/);
    expect(line("Investor update")).toMatch(/direct +81234567890\.246810@zoomcrc\.com +pull API/);
    expect(line("Architecture review")).toMatch(/direct +arch-bridge@video\.contoso\.example/);
    expect(line("Budget planning")).toMatch(/none +- +withdrawn/);
    expect(output).toContain("Private meeting");
    expect(output).not.toContain("Salary review");
    expect(line("03-03 09:15")).toMatch(/teams\.1127180739@vc\.contoso\.example +pushed/);
    // The Poly room (device family ews) read its own calendar through the EWS feed over HTTP.
    expect(output).toMatch(/Room 301 \(Poly\) <poly301@contoso\.example> +calendar: graph +device: ews/);
    const polyAt = output.indexOf("Room 301 (Poly) device at 08:00, signed in as poly301@contoso.example (autodiscover -> http://127.0.0.1:");
    expect(polyAt, output).toBeGreaterThan(0);
    const shown = output
      .slice(polyAt)
      .split("\n\n")[0]!
      .split("\n")
      .slice(1)
      .map((l) => /^ {2}(\d\d:\d\d)-(\d\d:\d\d) {2}(.+?) +-> dials (\S+)$/.exec(l));
    expect(shown.map((m) => m && [m[1], m[2], m[3], m[4]])).toEqual([
      ["10:00", "10:45", "Product roadmap review", "1198563286.contoso@m.webex.com"],
      ["11:30", "12:00", "Customer demo (Zoom)", "84512367890.135790@zoomcrc.com"],
    ]);
    // What the device dials is what otj planned for the room, and the room's table says it was read over the feed.
    for (const m of shown) {
      const [, start, , subject, dial] = m!;
      const planned = /^ {2}03-02 (\d\d:\d\d) +(\S+) +(\S+) +(.+?) {2,}(.+?)\s*$/.exec(line(subject!));
      expect(planned?.slice(1)).toEqual([start, expect.stringMatching(/^(cvi|direct)$/), dial, "EWS feed", subject]);
    }
    // The whole engine through a simulated morning on PGlite: a minute idle, several on a loaded machine.
  }, 600_000);
});
