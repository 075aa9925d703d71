/**
 * The `--help` text of a program, rendered from its option table: one row
 * per option with its defaults and environment variables, wrapped to 100
 * columns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { helpText } from "./help_text.ts";
 * import { port } from "./option_kinds.ts";
 *
 * const table = {
 *   port: port({ name: "port", env: ["PORT"], default: 9999, help: "port" }),
 * };
 * const help = helpText("demo [options]", "A demo.", table);
 * assert.match(help, /--port PORT +port \[default: 9999; env: PORT\]/);
 * ```
 *
 * @module
 */
import type { OptionTable } from "./option_kinds.ts";

/** Renders `--help` for a program from its option table. */
export function helpText(
  usage: string,
  summary: string,
  table: OptionTable,
): string {
  const rows = Object.values(table).map((s) => {
    const flag = `${s.short ? `-${s.short}, ` : "    "}--${s.name}${
      s.type === "string" ? ` ${s.value ?? "VALUE"}` : ""
    }`;
    const notes = [
      s.shown !== "" ? `default: ${s.shown}` : "",
      s.multiple ? "repeatable or comma-separated" : "",
      s.env?.length ? `env: ${s.env.join(", ")}` : "",
      s.secret
        ? `or from a file: --${s.name}-file FILE${
          s.env?.length ? `, ${s.env.map((e) => `${e}_FILE`).join(", ")}` : ""
        }`
        : "",
    ].filter(Boolean).join("; ");
    return [flag, s.help, notes ? `[${notes}]` : ""];
  });
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  const room = HELP_COLUMNS - 2 - width;
  return [
    `Usage: ${usage}`,
    "",
    ...wrap(summary, HELP_COLUMNS),
    "",
    "Options:",
    ...rows.map(([flag, help, notes]) => {
      const lines = wrap(help, room);
      // Defaults and variables stay whole: on the last line if they fit.
      if (notes && lines.at(-1)!.length + 1 + notes.length <= room) {
        lines[lines.length - 1] += ` ${notes}`;
      } else if (notes) {
        lines.push(...wrap(notes, room));
      }
      return lines.map((line, i) =>
        `  ${(i === 0 ? flag : "").padEnd(width)}${line}`
      ).join("\n");
    }),
    "",
  ].join("\n");
}

const HELP_COLUMNS = 100;

/** Splits `text` into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}
