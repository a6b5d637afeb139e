import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileOf, moduleOf, summarizeProfile } from "./cpu-profile.ts";

describe("cpu-profile", () => {
  it("names files and modules: berth's folders, npm packages, node internals", () => {
    const cases: Array<[string, string, string]> = [
      ["file:///work/berth/dist/stats/cgroup.js", "dist/stats/cgroup.js", "berth:stats"],
      ["file:///work/berth/dist/main.js", "dist/main.js", "berth:(top)"],
      [
        "file:///w/node_modules/@grpc/grpc-js/build/src/server.js",
        "npm:@grpc/grpc-js/build/src/server.js",
        "npm:@grpc/grpc-js",
      ],
      ["file:///w/node_modules/pino/pino.js", "npm:pino/pino.js", "npm:pino"],
      ["node:internal/http2/core", "node:internal/http2/core", "node:internal"],
    ];
    for (const [url, file, module] of cases) {
      assert.equal(fileOf(url, "f"), file, url);
      assert.equal(moduleOf(file), module, url);
    }
    assert.equal(fileOf("", "(garbage collector)"), "(garbage collector)");
  });

  it("counts self time inside the window only, idle left out", () => {
    const dir = mkdtempSync(join(tmpdir(), "cpu-profile-test-"));
    try {
      const file = join(dir, "p.cpuprofile");
      const frame = (id: number, functionName: string, url: string) => ({
        id,
        callFrame: { functionName, url },
      });
      writeFileSync(
        file,
        JSON.stringify({
          nodes: [
            frame(1, "(idle)", ""),
            frame(2, "read", "file:///b/dist/stats/cgroup.js"),
            frame(3, "encode", "file:///b/node_modules/pino/pino.js"),
          ],
          startTime: 1_000_000,
          endTime: 1_006_000,
          // Samples at 1.001, 1.002, ... s (µs); deltas of 1000 µs.
          samples: [2, 2, 3, 1, 2, 3],
          timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000],
        }),
      );
      const all = summarizeProfile(file);
      assert.equal(all.sampledMs, 5);
      assert.deepEqual(
        all.modules.map((m) => [m.name, Math.round(m.percent)]),
        [
          ["berth:stats", 60],
          ["npm:pino", 40],
        ],
      );
      // hrtime nanoseconds: the window holds the samples at 1.004 to 1.006 s.
      const late = summarizeProfile(file, { from: 1_003_500_000n, to: 1_006_000_000n });
      assert.equal(late.sampledMs, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
