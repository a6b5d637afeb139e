/**
 * berth's configuration, as the rest of berth imports it. The options are declared once in
 * config/options.ts; the command line, the config file, `berth config default|dump` and
 * `--help` are all derived from that table.
 */
export { type CommandLine, parseCommandLine, UsageError } from "./config/command-line.ts";
export { ConfigError } from "./config/config-file.ts";
export { type LoadedConfig, loadConfig, parseConfig, type Source } from "./config/load-config.ts";
export {
  type Config,
  DEFAULT_CONFIG_FILE,
  DEFAULT_LISTEN,
  DEFAULT_PAUSE_IMAGE,
  type HairpinMode,
} from "./config/options.ts";
