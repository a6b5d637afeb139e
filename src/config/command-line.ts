import { parseGoBool } from "./go-values.ts";
import { type AnyOption, CLI_FLAGS, type CliFlag, OPTIONS } from "./options.ts";

/** A command line berth cannot take; main prints it with the usage and exits 2. */
export class UsageError extends Error {}

export interface CommandLine {
  /** The words that are not flags: a subcommand such as `config dump`. */
  words: string[];
  /** Option values by option name, as text; `as` is the flag as written, for messages. */
  values: Map<string, { text: string; as: string }>;
  configFile: string | undefined;
  help: boolean;
  version: boolean;
  buildinfo: boolean;
}

type Known = { option: AnyOption } | { cli: CliFlag };

const BY_NAME = new Map<string, Known>();
for (const option of OPTIONS) {
  for (const name of [option.name, ...(option.aliases ?? [])]) BY_NAME.set(name, { option });
}
for (const cli of CLI_FLAGS) BY_NAME.set(cli.name, { cli });
const BY_SHORT = new Map(CLI_FLAGS.filter((f) => f.short).map((f) => [f.short, f]));

/**
 * Reads a command line with pflag's grammar, which cri-dockerd's unit files are written in:
 * `--flag=value` and `--flag value`; a bool flag alone is true and takes a value only after
 * `=` (`--flag=false`); words and flags may mix; `--` ends the flags; the last of repeated
 * flags wins. node:util's parseArgs refuses `--bool=false`, and the option parsers on npm
 * each have their own grammar, so berth reads this small one itself.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const line: CommandLine = {
    words: [],
    values: new Map(),
    configFile: undefined,
    help: false,
    version: false,
    buildinfo: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") {
      line.words.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      line.words.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const body = arg.slice(long ? 2 : 1);
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    let inline = eq < 0 ? undefined : body.slice(eq + 1);
    let known: Known | undefined;
    let negated = false;
    if (long) {
      known = BY_NAME.get(name);
      const positive = name.startsWith("no-") ? BY_NAME.get(name.slice(3)) : undefined;
      if (!known && positive && "option" in positive && positive.option.negatable) {
        if (inline !== undefined) throw new UsageError(`flag --${name} takes no value`);
        known = positive;
        negated = true;
        inline = "false";
      }
    } else {
      const short = BY_SHORT.get(name);
      if (short) known = { cli: short };
    }
    if (!known) throw new UsageError(`unknown flag: ${long ? "--" : "-"}${name}`);
    const isBool = "cli" in known ? known.cli.type === "bool" : known.option.kind.type === "bool";
    let value = inline;
    if (value === undefined) {
      if (isBool) value = "true";
      else if (i + 1 < argv.length) value = argv[++i];
      else throw new UsageError(`flag needs an argument: ${arg}`);
    }
    const as = negated ? `--${name}` : long ? `--${name}` : `-${name}`;
    if ("option" in known) {
      line.values.set(known.option.name, { text: value ?? "", as });
      continue;
    }
    if (known.cli.type === "string") {
      line.configFile = value;
      continue;
    }
    const on = parseCliBool(value ?? "", as);
    if (known.cli.name === "help") line.help = on;
    else if (known.cli.name === "version") line.version = on;
    else if (known.cli.name === "buildinfo") line.buildinfo = on;
  }
  return line;
}

function parseCliBool(text: string, as: string): boolean {
  try {
    return parseGoBool(text);
  } catch (err) {
    throw new UsageError(`${as}: ${(err as Error).message}`);
  }
}
