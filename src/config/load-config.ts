import { readFileSync } from "node:fs";
import { type CommandLine, parseCommandLine, UsageError } from "./command-line.ts";
import { ConfigError, parseConfigFile } from "./config-file.ts";
import { type Config, CROSS_CHECKS, DEFAULT_CONFIG_FILE, OPTIONS } from "./options.ts";

/** Where an option's effective value came from, highest precedence first. */
export type Source = "flag" | "file" | "env" | "default";

export interface LoadedConfig {
  config: Config;
  /** By option name. */
  sources: Map<string, Source>;
  /** Options given a value berth does not honour: each names the option and why. */
  warnings: string[];
  /** The config file read, if any. */
  file: string | undefined;
}

export interface LoadOptions {
  /** Read when it exists and no --config is given; `null` reads no file. */
  defaultFile?: string | null;
  /** Answers a file's text, or undefined when it does not exist. */
  readFile?: (path: string) => string | undefined;
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * The effective configuration: flags over the config file over the environment's defaults
 * ($DOCKER_HOST, ...) over berth's built-in defaults.
 */
export function loadConfig(
  line: CommandLine,
  env: NodeJS.ProcessEnv,
  options: LoadOptions = {},
): LoadedConfig {
  const read = options.readFile ?? readIfPresent;
  const defaultFile =
    options.defaultFile === undefined ? DEFAULT_CONFIG_FILE : (options.defaultFile ?? undefined);
  const file = line.configFile ?? defaultFile;
  let fileValues = new Map<string, { text: string; as: string }>();
  let fileRead: string | undefined;
  if (file !== undefined) {
    let source: string | undefined;
    try {
      source = read(file);
    } catch (err) {
      throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`);
    }
    if (source === undefined && line.configFile !== undefined) {
      throw new UsageError(`--config ${file}: no such file`);
    }
    if (source !== undefined) {
      fileValues = parseConfigFile(file, source);
      fileRead = file;
    }
  }

  const config: Record<string, unknown> = {};
  const sources = new Map<string, Source>();
  const warnings: string[] = [];
  for (const option of OPTIONS) {
    const flag = line.values.get(option.name);
    const fromFile = fileValues.get(option.name);
    const envText = option.env?.read(env);
    // A file's value is checked even where a flag overrides it: a broken file fails at once,
    // not on the start that drops the flag.
    const fileValue =
      fromFile &&
      parseAs(fromFile.text, option.kind.parse, (message) => {
        throw new ConfigError(`${fromFile.as}: ${message}`);
      });
    let value: unknown = option.default;
    let source: Source = "default";
    if (flag) {
      value = parseAs(flag.text, option.kind.parse, (message) => {
        throw new UsageError(`${flag.as}: ${message}`);
      });
      source = "flag";
    } else if (fromFile) {
      value = fileValue;
      source = "file";
    } else if (envText !== undefined) {
      value = parseAs(envText, option.kind.parse, (message) => {
        throw new ConfigError(`${option.env?.help} (default of --${option.name}): ${message}`);
      });
      source = "env";
    }
    config[option.field] = value;
    sources.set(option.name, source);
    const reason = source === "default" ? undefined : option.notHonoured?.(value as never);
    if (reason) {
      const where =
        source === "flag" ? flag?.as : source === "file" ? fromFile?.as : option.env?.help;
      warnings.push(
        `${option.name}=${String(option.kind.format(value as never))} (${where}) ${reason}`,
      );
    }
  }
  const resolved = config as unknown as Config;
  for (const check of CROSS_CHECKS) {
    const problem = check(resolved);
    if (problem) throw new ConfigError(problem);
  }
  return { config: resolved, sources, warnings, file: fileRead };
}

function parseAs<T>(text: string, parse: (text: string) => T, fail: (message: string) => never): T {
  try {
    return parse(text);
  } catch (err) {
    return fail((err as Error).message);
  }
}

/** The configuration from a command line alone, reading no file (tests, tools). */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): Config {
  return loadConfig(parseCommandLine(argv), env, { defaultFile: null }).config;
}
