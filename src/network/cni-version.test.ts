import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  atLeast,
  candidateVersions,
  chooseVersion,
  compareCniVersions,
  isSupportedCniVersion,
} from "./cni-version.ts";

describe("compareCniVersions", () => {
  const cases: Array<[string, string, number]> = [
    ["0.3.0", "0.3.1", -1],
    ["0.3.1", "0.3.1", 0],
    ["0.4.0", "0.3.1", 1],
    ["1.0.0", "0.4.0", 1],
    ["0.10.0", "0.9.0", 1],
    ["1.1.0", "1.0.0", 1],
    ["1.0", "1.0.0", 0],
  ];
  for (const [a, b, want] of cases) {
    test(`${a} vs ${b} is ${want}`, () => {
      assert.equal(compareCniVersions(a, b), want);
      assert.equal(compareCniVersions(b, a), -want || 0);
    });
  }

  test("atLeast gates CHECK (0.4.0) and STATUS (1.1.0)", () => {
    assert.equal(atLeast("0.3.1", "0.4.0"), false);
    assert.equal(atLeast("0.4.0", "0.4.0"), true);
    assert.equal(atLeast("1.0.0", "1.1.0"), false);
    assert.equal(atLeast("1.1.0", "1.1.0"), true);
  });
});

describe("candidateVersions", () => {
  test("supported versions from 0.3.0 to 1.1.0", () => {
    for (const v of ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]) {
      assert.equal(isSupportedCniVersion(v), true, v);
    }
    for (const v of ["0.1.0", "0.2.0", "1.2.0", "2.0.0", "", "1.0"]) {
      assert.equal(isSupportedCniVersion(v), false, v);
    }
  });

  test("a single cniVersion", () => {
    assert.deepEqual(candidateVersions({ cniVersion: "0.4.0" }, "f"), ["0.4.0"]);
  });

  test("cniVersions adds choices, newest first, unsupported ones dropped", () => {
    assert.deepEqual(
      candidateVersions({ cniVersion: "1.0.0", cniVersions: ["0.3.1", "1.1.0", "2.0.0", 7] }, "f"),
      ["1.1.0", "1.0.0", "0.3.1"],
    );
  });

  const refused: Array<{ name: string; raw: Record<string, unknown> }> = [
    { name: "0.2.0", raw: { cniVersion: "0.2.0" } },
    { name: "0.1.0", raw: { cniVersion: "0.1.0" } },
    { name: "a missing version (0.1.0 to libcni)", raw: {} },
    { name: "a future major", raw: { cniVersion: "2.0.0" } },
  ];
  for (const { name, raw } of refused) {
    test(`refuses ${name} with a message naming the file and the supported versions`, () => {
      assert.throws(
        () => candidateVersions(raw, "/etc/cni/net.d/old.conf"),
        (err: Error & { kind?: string }) => {
          assert.equal(err.kind, "FailedPrecondition");
          assert.match(err.message, /\/etc\/cni\/net\.d\/old\.conf/);
          assert.match(err.message, /0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0/);
          return true;
        },
      );
    });
  }
});

describe("chooseVersion", () => {
  test("the newest candidate every plugin supports", () => {
    const plugins = [
      ["0.3.1", "0.4.0", "1.0.0"],
      ["0.4.0", "1.0.0", "1.1.0"],
    ];
    assert.equal(chooseVersion(["1.1.0", "1.0.0", "0.4.0"], plugins), "1.0.0");
  });

  test("a plugin that could not tell does not constrain", () => {
    assert.equal(chooseVersion(["1.1.0", "1.0.0"], [undefined, ["1.1.0"]]), "1.1.0");
  });

  test("the newest candidate when no candidate suits every plugin", () => {
    assert.equal(chooseVersion(["1.1.0", "1.0.0"], [["0.3.1"]]), "1.1.0");
  });
});
