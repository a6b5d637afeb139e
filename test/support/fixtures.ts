import { readFileSync } from "node:fs";

/** What scripts/test-fixtures.sh prepared: local registries, test images, credentials. */
export interface Fixtures {
  plainRegistry: string;
  authRegistry: string;
  username: string;
  password: string;
  caFile: string;
  images: { busybox: string; busyboxUid: string; busyboxUser: string; pullable: string };
  users: Record<string, { uid: number; gid: number }>;
  digests: { plain: string; auth: string };
  pauseImage: string;
}

export const FIXTURES_FILE = "/var/lib/berth-test/fixtures.json";

export function loadFixtures(): Fixtures {
  try {
    return JSON.parse(readFileSync(FIXTURES_FILE, "utf8")) as Fixtures;
  } catch (err) {
    throw new Error(
      `${FIXTURES_FILE} is missing: run the tests with "npm test", which prepares it (${String(err)})`,
    );
  }
}
