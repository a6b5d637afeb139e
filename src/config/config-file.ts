import { isMap, parseDocument } from "yaml";
import { type AnyOption, OPTIONS } from "./options.ts";

/** A configuration berth refuses, from its file or environment: the message says where and why. */
export class ConfigError extends Error {}

const BY_KEY = new Map<string, AnyOption>();
for (const option of OPTIONS) {
  for (const name of [option.name, ...(option.aliases ?? [])]) BY_KEY.set(name, option);
}

/**
 * Reads a config file's keys as the text a flag would carry, by option name, so one parser
 * per option serves both. A key whose value is empty (`key:`, null) is not set here.
 */
export function parseConfigFile(
  file: string,
  source: string,
): Map<string, { text: string; as: string }> {
  const doc = parseDocument(source, { uniqueKeys: true });
  const [first] = doc.errors;
  if (first) {
    const at = first.linePos?.[0];
    throw new ConfigError(
      `${file}${at ? `:${at.line}:${at.col}` : ""}: not valid YAML: ${(first.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "")}`,
    );
  }
  const values = new Map<string, { text: string; as: string }>();
  if (doc.contents === null) return values;
  if (!isMap(doc.contents)) {
    throw new ConfigError(`${file}: expected a mapping of keys to values (key: value lines)`);
  }
  const seen = new Map<string, string>();
  const data = doc.toJS() as Record<string, unknown>;
  for (const [key, value] of Object.entries(data)) {
    const at = `${file}: key "${key}"`;
    const option = BY_KEY.get(key);
    if (!option) {
      throw new ConfigError(
        `${file}: unknown key "${key}" (keys are the flags' names; \`berth config default\` lists them all)`,
      );
    }
    const earlier = seen.get(option.name);
    if (earlier !== undefined) {
      throw new ConfigError(`${at}: sets the same option as key "${earlier}"`);
    }
    seen.set(option.name, key);
    const text = scalarText(option, value, at);
    if (text !== undefined) values.set(option.name, { text, as: at });
  }
  return values;
}

function scalarText(option: AnyOption, value: unknown, at: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (
    option.kind.type === "strings" &&
    Array.isArray(value) &&
    value.every((entry) => typeof entry === "string")
  ) {
    return value.join(",");
  }
  throw new ConfigError(
    `${at}: expected a single ${option.kind.type} value${option.kind.type === "strings" ? " or a list of strings" : ""}`,
  );
}
