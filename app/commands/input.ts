/** Reading an input file (or stdin for '-') under the parser's size cap. */
import { open } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { OtjError } from "../../core/errors.ts";
import { PARSER_LIMITS } from "../../parser/index.ts";
import type { CliIo } from "../cli-context.ts";

export async function readInputFile(file: string, io: CliIo): Promise<{ data: Buffer; filename: string | undefined }> {
  if (file === "-") return { data: await io.readStdin(), filename: undefined };
  const path = resolve(io.cwd, file);
  try {
    const handle = await open(path, "r");
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new OtjError("OTJ_INPUT_UNREADABLE", `${file} is not a file`);
      const size = Math.min(stat.size, PARSER_LIMITS.inputBytes + 1);
      const data = Buffer.alloc(size);
      const { bytesRead } = await handle.read(data, 0, size, 0);
      return { data: data.subarray(0, bytesRead), filename: basename(path) };
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof OtjError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new OtjError("OTJ_INPUT_UNREADABLE", `cannot read ${file}${code ? ` (${code})` : ""}`, { cause: error });
  }
}
