/**
 * The plain-text tables of the original stats API. The Flask original
 * printed them with Python's `tabulate(rows, headers, tablefmt="plain")`;
 * this reproduces that output byte for byte for the columns it printed, so
 * scripts that parse `/_cat/hashes` and `/_cat/clients` keep working.
 *
 * @module
 */

/** How a column is formatted and aligned. */
export type ColumnKind =
  /** Left-aligned text. */
  | "text"
  /** Right-aligned integer. */
  | "int"
  /** Right-aligned number with 4 decimals (`floatfmt="10.4f"`). */
  | "float";

/** One column: its header and kind. */
export interface Column {
  header: string;
  kind: ColumnKind;
}

/**
 * Formats `x` with `digits` decimals as Python's `format(x, ".Nf")` does:
 * from the exact binary value, ties to even (JavaScript's `toFixed` breaks
 * ties upwards, so `1500000000.96875` would print `.9688` either way but
 * `1700000000.03125` would not).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatFixed } from "./tabulate.ts";
 * assert.equal(formatFixed(1700000000.03125, 4), "1700000000.0312");
 * ```
 */
export function formatFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const negative = x < 0 || Object.is(x, -0);
  const abs = Math.abs(x);
  if (abs >= 1e21) {
    return (negative ? "-" : "") + BigInt(abs).toString() +
      (digits > 0 ? "." + "0".repeat(digits) : "");
  }
  // 100 decimals hold the exact value of every double of 1 or more.
  const [whole, fraction] = abs.toFixed(100).split(".");
  const kept = fraction.slice(0, digits);
  const rest = fraction.slice(digits).replace(/0+$/, "");
  let scaled = BigInt(whole + kept);
  if (rest > "5" || (rest === "5" && scaled % 2n === 1n)) scaled++;
  const text = scaled.toString().padStart(digits + 1, "0");
  const body = digits > 0
    ? `${text.slice(0, -digits)}.${text.slice(-digits)}`
    : text;
  return (negative ? "-" : "") + body;
}

function width(s: string): number {
  return [...s].length;
}

/**
 * Renders `rows` under `columns` as `tabulate(..., tablefmt="plain")`:
 * columns two spaces apart, each as wide as its widest cell or its header
 * plus two; text left-aligned, numbers right-aligned with their headers;
 * trailing spaces trimmed from every line; no final newline. With no rows,
 * tabulate treats every column as text. A null cell is empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPlainTable } from "./tabulate.ts";
 * const table = formatPlainTable(
 *   [{ header: "client", kind: "text" }, { header: "count", kind: "int" }],
 *   [["127.0.0.1", 5]],
 * );
 * assert.equal(table, "client       count\n127.0.0.1        5");
 * ```
 */
export function formatPlainTable(
  columns: readonly Column[],
  rows: readonly (readonly (string | number | bigint | null)[])[],
): string {
  const cells = rows.map((row) =>
    columns.map((column, i) => {
      const value = row[i];
      // tabulate's `missingval`: None is an empty cell.
      if (value === null) return "";
      if (column.kind === "float") {
        return formatFixed(Number(value), 4).padStart(10);
      }
      return String(value);
    })
  );
  const right = columns.map((c) => rows.length > 0 && c.kind !== "text");
  const widths = columns.map((c, i) =>
    Math.max(width(c.header) + 2, ...cells.map((row) => width(row[i])))
  );
  const pad = (s: string, i: number) => {
    const fill = " ".repeat(Math.max(0, widths[i] - width(s)));
    return right[i] ? fill + s : s + fill;
  };
  const line = (row: string[]) => row.map(pad).join("  ").trimEnd();
  return [columns.map((c) => c.header), ...cells].map(line).join("\n");
}
