import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { SERVICE_ENV } from "../test/support/berth-process.ts";

const REPO = join(import.meta.dirname, "..");

test("the benchmark's berth has the environment berth.service and npm start give it", () => {
  const unit = readFileSync(join(REPO, "packaging/systemd/berth.service"), "utf8");
  const start = readFileSync(join(REPO, "scripts/start.sh"), "utf8");
  const unitEnv = Object.fromEntries(
    [...unit.matchAll(/^Environment=([A-Z_]+)=(\S*)$/gm)].map((m) => [m[1], m[2]]),
  );
  assert.deepEqual(unitEnv, SERVICE_ENV);
  for (const [name, value] of Object.entries(SERVICE_ENV)) {
    assert.ok(start.includes(`export ${name}="\${${name}:-${value}}"`), `start.sh sets ${name}`);
  }
});
