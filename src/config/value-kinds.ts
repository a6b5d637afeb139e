import { formatGoDuration, parseGoBool, parseGoDuration, parseGoInt32 } from "./go-values.ts";

/** A scalar as the config file and `berth config dump` write it; null is "not set". */
export type FileValue = string | number | boolean | null;

/**
 * How one option's value is read from a flag's text (a file's scalar is read as its text too)
 * and written back, so flags, file, `config default` and `config dump` agree on one syntax.
 */
export interface ValueKind<T> {
  /** The value's name in `--help`: string, bool, duration, int32, strings. */
  readonly type: string;
  /** Throws an Error whose message says why the text is refused. */
  parse(text: string): T;
  format(value: T): FileValue;
}

type Check = (text: string) => string | undefined;

export function text(check?: Check): ValueKind<string> {
  return {
    type: "string",
    parse(value) {
      const problem = check?.(value);
      if (problem) throw new Error(problem);
      return value;
    },
    format: (value) => value,
  };
}

/** A string whose empty value means "not set", as cri-dockerd's `--flag=""` does. */
export function optionalText(check?: Check): ValueKind<string | undefined> {
  return {
    type: "string",
    parse(value) {
      if (value === "") return undefined;
      const problem = check?.(value);
      if (problem) throw new Error(problem);
      return value;
    },
    format: (value) => value ?? null,
  };
}

export const bool: ValueKind<boolean> = {
  type: "bool",
  parse: parseGoBool,
  format: (value) => value,
};

/** A duration in milliseconds; `zeroMeans` stands in for 0 where Go code treats 0 as "default". */
export function duration(zeroMeans?: number): ValueKind<number> {
  return {
    type: "duration",
    parse(value) {
      const ms = parseGoDuration(value);
      if (ms < 0) throw new Error(`${JSON.stringify(value)} is negative`);
      return ms === 0 && zeroMeans !== undefined ? zeroMeans : ms;
    },
    format: formatGoDuration,
  };
}

export function int32(check?: (value: number) => string | undefined): ValueKind<number> {
  return {
    type: "int32",
    parse(value) {
      const parsed = parseGoInt32(value);
      const problem = check?.(parsed);
      if (problem) throw new Error(problem);
      return parsed;
    },
    format: (value) => value,
  };
}

/** A comma-separated list, empty entries dropped (cri-dockerd's `--cni-bin-dir`). */
export const commaList: ValueKind<string[]> = {
  type: "strings",
  parse: (value) => value.split(",").filter((entry) => entry !== ""),
  format: (value) => value.join(","),
};

export function choice<T extends string>(values: readonly T[]): ValueKind<T> {
  return {
    type: values.join("|"),
    parse(value) {
      if ((values as readonly string[]).includes(value)) return value as T;
      throw new Error(`${JSON.stringify(value)} is not one of ${values.join(", ")}`);
    },
    format: (value) => value,
  };
}
