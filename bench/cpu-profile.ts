/**
 * Where a Node process's time goes, from a V8 .cpuprofile (node --cpu-prof): self time per
 * source file and per module (berth's own folders under src/ or dist/, each npm package, Node's
 * internals), counted only for samples inside a time window (the polling phase).
 *
 *   node bench/cpu-profile.ts FILE.cpuprofile      # the whole profile
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  percent: number;
  ms: number;
}

export interface ProfileSummary {
  sampledMs: number;
  files: ProfileRow[];
  modules: ProfileRow[];
  functions: ProfileRow[];
}

/** The file a frame belongs to, relative to the repository or the package. */
export function fileOf(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  const path = url.replace(/^file:\/\//, "");
  const npm = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(path);
  if (npm) return `npm:${npm[1]}/${npm[2]}`;
  const own = /\/(src|dist|bench|test)\/(.*)$/.exec(path);
  if (own) return `${own[1]}/${own[2]}`;
  if (path.startsWith("node:")) return path;
  return path;
}

/** The module of a file: berth's folder (src/stats), an npm package, or node's internals. */
export function moduleOf(file: string): string {
  if (file.startsWith("npm:")) {
    const name = file.slice(4).split("/");
    return `npm:${name[0]?.startsWith("@") ? `${name[0]}/${name[1]}` : name[0]}`;
  }
  if (file.startsWith("node:")) return `node:${file.slice(5).split("/")[0]}`;
  const own = /^(src|dist)\/(.*)$/.exec(file);
  if (own) {
    const parts = (own[2] as string).split("/");
    return `berth:${parts.length > 1 ? parts[0] : "(top)"}`;
  }
  return file;
}

const rows = (totals: Map<string, number>, sampledMs: number): ProfileRow[] =>
  [...totals.entries()]
    .map(([name, us]) => ({
      name,
      ms: Math.round(us / 100) / 10,
      percent: sampledMs > 0 ? (us / 1000 / sampledMs) * 100 : 0,
    }))
    .sort((a, b) => b.ms - a.ms);

/**
 * window: process.hrtime.bigint() values (nanoseconds) of the benchmark process; V8's profile
 * clock is the same CLOCK_MONOTONIC in microseconds, so both processes' times compare.
 */
export function summarizeProfile(
  file: string,
  window?: { from: bigint; to: bigint },
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const from = window ? Number(window.from / 1000n) : Number.NEGATIVE_INFINITY;
  const to = window ? Number(window.to / 1000n) : Number.POSITIVE_INFINITY;
  const files = new Map<string, number>();
  const modules = new Map<string, number>();
  const functions = new Map<string, number>();
  let at = profile.startTime;
  let sampled = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < from || at > to) continue;
    const node = byId.get(profile.samples[i] as number);
    if (!node) continue;
    // (idle) is the event loop waiting: not time spent, so left out of the shares.
    if (node.callFrame.functionName === "(idle)") continue;
    const next = profile.timeDeltas[i + 1] ?? delta;
    const file = fileOf(node.callFrame.url, node.callFrame.functionName);
    files.set(file, (files.get(file) ?? 0) + next);
    const module = moduleOf(file);
    modules.set(module, (modules.get(module) ?? 0) + next);
    const fn = `${node.callFrame.functionName || "(anonymous)"} ${file}`;
    functions.set(fn, (functions.get(fn) ?? 0) + next);
    sampled += next;
  }
  const sampledMs = sampled / 1000;
  return {
    sampledMs: Math.round(sampledMs),
    files: rows(files, sampledMs),
    modules: rows(modules, sampledMs),
    functions: rows(functions, sampledMs).slice(0, 30),
  };
}

if (import.meta.main) {
  const file = process.argv[2];
  if (!file) throw new Error("usage: node bench/cpu-profile.ts FILE.cpuprofile");
  const summary = summarizeProfile(file);
  const print = (title: string, list: ProfileRow[], n: number) => {
    process.stdout.write(`${title} (self time, ${summary.sampledMs} ms sampled, idle left out)\n`);
    for (const row of list.slice(0, n))
      process.stdout.write(
        `  ${row.percent.toFixed(1).padStart(5)}%  ${row.ms.toFixed(0).padStart(7)} ms  ${row.name}\n`,
      );
  };
  print("by module", summary.modules, 20);
  print("by file", summary.files, 25);
  print("by function", summary.functions, 20);
}
