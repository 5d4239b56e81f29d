/**
 * Caps that keep the parser linear and bounded on hostile input (docs/formats.md, B6). Exceeding a cap
 * truncates the scan and adds a warning; nothing here ever throws. docs/parser.md documents them.
 */
export const LIMITS = {
  /** Bytes of one input file considered. */
  inputBytes: 10 * 1024 * 1024,
  /** Characters of decoded text considered per body part. */
  partChars: 2 * 1024 * 1024,
  /** Characters of one URL. */
  urlChars: 8192,
  /** URL candidates examined per invite. */
  urlCandidates: 500,
  /** Successful unwrap steps per URL. */
  unwrapSteps: 5,
  /** Nesting depth of message/rfc822 parts followed. */
  mimeDepth: 5,
  /** Forwarded (message/rfc822) messages read per input, all levels together. */
  forwardedMessages: 20,
  /** Calendar parts examined per message (all levels). */
  calendarParts: 50,
  /** VEVENTs read per calendar. */
  eventsPerCalendar: 1000,
  /** Lines examined per body. */
  bodyLines: 50_000,
  /** Graph events read from one JSON document. */
  graphEvents: 1000,
} as const;
