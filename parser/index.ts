/** The parser's public surface. Pure: no network, no clock, no database. */
export { detectFormat, EMPTY_META, parseGoogleEvent, parseGraphEvent, parseInvite, parseInviteDetailed } from "./invite-parser.ts";
export type { DetailedParse, InviteDetail, ParseOptions } from "./invite-parser.ts";
export type { InviteContext } from "./assemble.ts";
export { unwrapUrl } from "./unwrap/index.ts";
export { LIMITS as PARSER_LIMITS } from "./limits.ts";
