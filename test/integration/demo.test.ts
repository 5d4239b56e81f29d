/** `otj demo` runs the real engine through a morning and shows every path a room admin cares about. */
import { describe, expect, it } from "vitest";
import { runDemo } from "../../app/demo.ts";

describe("otj demo", () => {
  it("shows CVI, SGJ (admitted, denied, nobody admitted), direct, private, cancelled and moved meetings", async () => {
    const { output, ok } = await runDemo();
    expect(ok).toBe(true);
    const line = (text: string) => output.split("\n").find((l) => l.includes(text)) ?? "";
    expect(line("Weekly sales sync")).toMatch(/cvi +1198563286\.contoso@m\.webex\.com +pushed/);
    expect(line("Supplier review")).toMatch(/sgj +sgj_[0-9a-f]{12}@sgj\.contoso\.example +pushed .*lobby -> admitted -> ended/);
    expect(line("Partner call")).toMatch(/sgj .*lobby -> denied/);
    expect(line("Board pre-read")).toMatch(/sgj .*pull API .*lobby -> timeout/);
    expect(line("Investor update")).toMatch(/direct +81234567890\.246810@zoomcrc\.com +pull API/);
    expect(line("Architecture review")).toMatch(/direct +arch-bridge@video\.contoso\.example/);
    expect(line("Budget planning")).toMatch(/none +- +withdrawn/);
    expect(output).toContain("Private meeting");
    expect(output).not.toContain("Salary review");
    expect(line("03-03 09:15")).toMatch(/teams\.1127180739@vc\.contoso\.example +pushed/);
  }, 120_000);
});
