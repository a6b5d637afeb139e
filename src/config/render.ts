import { stringify } from "yaml";
import type { LoadedConfig } from "./load-config.ts";
import { type AnyOption, CLI_FLAGS, DEFAULT_CONFIG_FILE, OPTIONS } from "./options.ts";
import type { FileValue } from "./value-kinds.ts";

/** A subcommand as `--help` lists it. */
export interface CommandHelp {
  usage: string;
  help: string;
}

function yamlScalar(value: FileValue): string {
  return value === null ? "" : ` ${stringify(value).trimEnd()}`;
}

function defaultText(option: AnyOption): string {
  const value = option.kind.format(option.default);
  const builtIn = value === null || value === "" ? undefined : JSON.stringify(value);
  if (option.env) return builtIn ? `${option.env.help}, else ${builtIn}` : option.env.help;
  return builtIn ?? "";
}

export function usage(commands: readonly CommandHelp[]): string {
  const flags: Array<[string, string]> = [];
  for (const option of OPTIONS) {
    const type = option.kind.type === "bool" ? "" : ` ${option.kind.type}`;
    const aliases = (option.aliases ?? []).map((alias) => `, --${alias}`).join("");
    const fallback = defaultText(option);
    flags.push([
      `--${option.name}${aliases}${type}`,
      `${option.help}${fallback ? ` (default ${fallback})` : ""}`,
    ]);
  }
  for (const flag of CLI_FLAGS) {
    const short = flag.short ? `-${flag.short}, ` : "";
    flags.push([`${short}--${flag.name}${flag.type === "bool" ? "" : ` ${flag.type}`}`, flag.help]);
  }
  const width = Math.max(...flags.map(([left]) => left.length)) + 2;
  const commandWidth = Math.max(...commands.map((c) => c.usage.length)) + 2;
  return [
    "berth: a Kubernetes CRI runtime for Docker Engine, taking cri-dockerd's flags",
    "",
    "Usage:",
    `  ${"berth [flags]".padEnd(commandWidth)}serve CRI`,
    ...commands.map((c) => `  ${c.usage.padEnd(commandWidth)}${c.help}`),
    "",
    "Flags (--flag=value or --flag value; a bool flag alone is true, --flag=false turns it off).",
    `Each option is also a key of the config file, named as the flag (${DEFAULT_CONFIG_FILE});`,
    "flags win over the file, the file over the environment's defaults:",
    ...flags.map(([left, help]) => `  ${left.padEnd(width)}${help}`),
    "",
  ].join("\n");
}

const FILE_HEADER = [
  `# berth's configuration (${DEFAULT_CONFIG_FILE}, or the file --config names).`,
  "# One key per command-line flag, named as the flag; flags win over this file. A key left",
  "# empty is not set here: its default applies (from the environment where one is named).",
  "# `berth config default` prints this file with every default; `berth config dump` prints",
  "# the configuration in effect.",
];

/**
 * The default config file: every option with its help as a comment. An option whose default
 * comes from the environment is left empty, so the file does not override the environment.
 */
export function defaultConfigFile(): string {
  const lines = [...FILE_HEADER];
  for (const option of OPTIONS) {
    const fallback = defaultText(option);
    lines.push("", ...commentLines(`${option.help}${fallback ? ` (default ${fallback})` : ""}`));
    const value = option.env ? null : option.kind.format(option.default);
    lines.push(`${option.name}:${yamlScalar(value)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** `# text` wrapped at 99 columns, so the installed file reads well in any editor. */
function commentLines(text: string): string[] {
  const lines: string[] = [];
  let line = "#";
  for (const word of text.split(" ")) {
    if (line.length > 1 && line.length + 1 + word.length > 99) {
      lines.push(line);
      line = "#";
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines;
}

/** The effective configuration, itself a valid config file, each key's source noted. */
export function dumpConfig(loaded: LoadedConfig): string {
  const lines = ["# berth's configuration in effect", `# config file: ${loaded.file ?? "none"}`];
  for (const option of OPTIONS) {
    const value = option.kind.format(loaded.config[option.field] as never);
    const source = loaded.sources.get(option.name) ?? "default";
    const from =
      source === "env" ? ` # from ${option.env?.help}` : source === "default" ? "" : ` # ${source}`;
    lines.push(`${option.name}:${yamlScalar(value)}${from}`);
  }
  return `${lines.join("\n")}\n`;
}
