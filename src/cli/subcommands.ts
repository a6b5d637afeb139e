import type { CommandLine } from "../config/command-line.ts";
import { type LoadedConfig, loadConfig } from "../config/load-config.ts";
import { defaultConfigFile, dumpConfig } from "../config/render.ts";
import { runDoctor } from "../doctor/doctor.ts";

export interface SubcommandContext {
  line: CommandLine;
  env: NodeJS.ProcessEnv;
  out: NodeJS.WritableStream;
  /** The effective configuration (flags, file, environment), read on first use. */
  config(): LoadedConfig;
}

export interface Subcommand {
  /** The words that name it on the command line. */
  words: readonly string[];
  usage: string;
  help: string;
  /** Answers the exit code. */
  run(context: SubcommandContext): Promise<number>;
}

/**
 * Every `berth WORDS...` besides serving. A new subcommand is one more entry here: main
 * dispatches on `words` and --help lists `usage` and `help`.
 */
export const SUBCOMMANDS: readonly Subcommand[] = [
  {
    words: ["doctor"],
    usage: "berth doctor [flags]",
    help: "check this node for berth (engine, cgroups, pause image, CNI, forwarding, capabilities, CRI socket), one line per check with its fix; exit 1 when one fails",
    run: ({ out, config }) => runDoctor(config().config, out),
  },
  {
    words: ["config", "default"],
    usage: "berth config default",
    help: "print the default config file (every key, its default and what it does)",
    async run({ out }) {
      out.write(defaultConfigFile());
      return 0;
    },
  },
  {
    words: ["config", "dump"],
    usage: "berth config dump [flags]",
    help: "print the configuration in effect after flags, config file and environment",
    async run({ out, config }) {
      out.write(dumpConfig(config()));
      return 0;
    },
  },
];

export function findSubcommand(words: readonly string[]): Subcommand | undefined {
  return SUBCOMMANDS.find(
    (command) =>
      command.words.length === words.length && command.words.every((w, i) => w === words[i]),
  );
}

export function subcommandContext(
  line: CommandLine,
  env: NodeJS.ProcessEnv,
  out: NodeJS.WritableStream,
): SubcommandContext {
  let loaded: LoadedConfig | undefined;
  return {
    line,
    env,
    out,
    config: () => {
      loaded ??= loadConfig(line, env);
      return loaded;
    },
  };
}
