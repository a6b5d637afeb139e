/**
 * One line of `berth doctor`: a check's verdict, what was found, and for a failure or a
 * warning the fix. Checks gather facts (I/O) apart from judging them (pure functions over
 * the facts, unit-tested), so each verdict is tested without a broken node.
 */
export interface CheckResult {
  /** Short, stable, kebab-case: "engine", "cni-config", "ip-forward". */
  name: string;
  /** fail: berth or its pods will not work; warn: they work with a limit; info: a note. */
  status: "ok" | "warn" | "fail" | "info";
  detail: string;
  fix?: string;
}

const LABELS: Record<CheckResult["status"], string> = {
  ok: "[ok]  ",
  warn: "[warn]",
  fail: "[FAIL]",
  info: "[info]",
};

/** The report as printed: one line per check, its fix indented below it, then a summary. */
export function formatReport(results: CheckResult[]): string {
  const width = Math.max(...results.map((result) => result.name.length));
  const lines: string[] = [];
  for (const result of results) {
    lines.push(`${LABELS[result.status]} ${result.name.padEnd(width)}  ${result.detail}`);
    if (result.fix && result.status !== "ok") {
      lines.push(`${" ".repeat(7 + width + 2)}fix: ${result.fix}`);
    }
  }
  const failures = results.filter((result) => result.status === "fail").length;
  const warnings = results.filter((result) => result.status === "warn").length;
  lines.push(
    failures > 0
      ? `berth doctor: ${plural(failures, "check")} failed, ${plural(warnings, "warning")}`
      : `berth doctor: no failures, ${plural(warnings, "warning")}`,
  );
  return `${lines.join("\n")}\n`;
}

/** Non-zero when a check failed; warnings alone pass. */
export function exitCodeOf(results: CheckResult[]): number {
  return results.some((result) => result.status === "fail") ? 1 : 0;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
