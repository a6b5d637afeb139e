/** Docker Engine API versions berth speaks: 20.10 (1.41) up to current engines. */
export const MIN_API_VERSION = "1.41";
export const MAX_API_VERSION = "1.51";

export function compareApiVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor !== bMajor ? aMajor - bMajor : aMinor - bMinor;
}

const API_VERSION = /^\d+\.\d+$/;

/**
 * The version both sides understand: the engine's newest, capped at the newest berth knows,
 * but never below the oldest the engine still accepts (Docker 29 refuses clients below 1.44,
 * so a pinned older version would fail every call there). An engine whose newest is older
 * than 1.41 is refused, naming both versions.
 */
export function negotiateApiVersion(engineVersion: string, engineMinVersion?: string): string {
  if (!API_VERSION.test(engineVersion)) {
    throw new Error(`Docker Engine reported an unreadable API version "${engineVersion}"`);
  }
  if (engineMinVersion !== undefined && !API_VERSION.test(engineMinVersion)) {
    throw new Error(
      `Docker Engine reported an unreadable minimum API version "${engineMinVersion}"`,
    );
  }
  if (compareApiVersions(engineVersion, MIN_API_VERSION) < 0) {
    throw new Error(
      `Docker Engine API ${engineVersion} is too old: berth needs ${MIN_API_VERSION} (Docker 20.10) or newer`,
    );
  }
  const capped =
    compareApiVersions(engineVersion, MAX_API_VERSION) > 0 ? MAX_API_VERSION : engineVersion;
  if (engineMinVersion !== undefined && compareApiVersions(capped, engineMinVersion) < 0) {
    // Newer than berth knows, but the engine speaks nothing older: its API only grows, so
    // berth's requests still mean what they say there.
    return engineMinVersion;
  }
  return capped;
}

export function apiAtLeast(negotiated: string, wanted: string): boolean {
  return compareApiVersions(negotiated, wanted) >= 0;
}
