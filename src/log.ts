import { type Logger, pino } from "pino";

/**
 * Structured logs to stderr. Registry credentials travel in PullImage requests: every path
 * where they could appear is redacted, and handlers never log whole requests.
 */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { name: "berth" },
      redact: {
        paths: [
          "auth",
          "*.auth",
          "password",
          "*.password",
          "identityToken",
          "*.identityToken",
          "registryToken",
          "*.registryToken",
          "headers['x-registry-auth']",
        ],
        censor: "[redacted]",
      },
    },
    pino.destination(2),
  );
}
