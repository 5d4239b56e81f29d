/**
 * The unwrap loop (docs/formats.md, B1.7): peel known link wrappers off a URL, offline, at most
 * LIMITS.unwrapSteps times. Never fetches anything.
 */
import { LIMITS } from "../limits.ts";
import { type UnwrapStep, unwrapOnce, type WrapperName } from "./wrappers.ts";

export type { WrapperName } from "./wrappers.ts";

export interface UnwrapResult {
  /** The innermost URL reached (the input when nothing was undone). */
  url: string;
  /** Set when the innermost wrapper cannot be undone offline (Mimecast and similar). */
  opaque: { wrapper: WrapperName; domain: string | null } | null;
  /** Wrappers undone, outermost first. */
  wrappers: WrapperName[];
  warnings: string[];
}

export function unwrapUrl(input: string): UnwrapResult {
  const warnings: string[] = [];
  const wrappers: WrapperName[] = [];
  let url = input;
  for (let step = 0; ; step++) {
    if (url.length > LIMITS.urlChars) {
      warnings.push("link-too-long");
      return { url, opaque: null, wrappers, warnings };
    }
    const result: UnwrapStep | null = unwrapOnce(url);
    if (result === null) return { url, opaque: null, wrappers, warnings };
    if (result.kind === "opaque") {
      warnings.push(`link-wrapped-opaque: ${result.wrapper}`);
      return { url, opaque: { wrapper: result.wrapper, domain: result.domain }, wrappers, warnings };
    }
    if (result.kind === "failed") {
      warnings.push(`unwrap-failed: ${result.wrapper}`);
      return { url, opaque: null, wrappers, warnings };
    }
    if (result.url === url) return { url, opaque: null, wrappers, warnings };
    if (step >= LIMITS.unwrapSteps) {
      warnings.push("unwrap-depth-exceeded");
      return { url, opaque: null, wrappers, warnings };
    }
    wrappers.push(result.wrapper);
    url = result.url;
  }
}
