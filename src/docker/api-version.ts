/** Docker Engine API versions berth speaks: 20.10 (1.41) up to current engines. */
export const MIN_API_VERSION = "1.41";
export const MAX_API_VERSION = "1.51";

export function compareApiVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor !== bMajor ? aMajor - bMajor : aMinor - bMinor;
}

/**
 * The version both sides understand: the engine's own, capped at the newest berth knows.
 * An engine older than 1.41 is refused, naming both versions.
 */
export function negotiateApiVersion(engineVersion: string): string {
  if (!/^\d+\.\d+$/.test(engineVersion)) {
    throw new Error(`Docker Engine reported an unreadable API version "${engineVersion}"`);
  }
  if (compareApiVersions(engineVersion, MIN_API_VERSION) < 0) {
    throw new Error(
      `Docker Engine API ${engineVersion} is too old: berth needs ${MIN_API_VERSION} (Docker 20.10) or newer`,
    );
  }
  return compareApiVersions(engineVersion, MAX_API_VERSION) > 0 ? MAX_API_VERSION : engineVersion;
}

export function apiAtLeast(negotiated: string, wanted: string): boolean {
  return compareApiVersions(negotiated, wanted) >= 0;
}
