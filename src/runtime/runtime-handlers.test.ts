import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { EngineFacts } from "./engine-facts.ts";
import { DEFAULT_HANDLER, runtimeHandlers, supportsRecursiveReadOnly } from "./runtime-handlers.ts";

function facts(
  apiVersion: string,
  kernelVersion: string,
  runtimes?: Record<string, unknown>,
): EngineFacts {
  return {
    apiVersion,
    version: { Version: "28.0.0", ApiVersion: apiVersion, Os: "linux", Arch: "amd64" },
    info: {
      DockerRootDir: "/var/lib/docker",
      CgroupDriver: "systemd",
      Driver: "overlay2",
      KernelVersion: kernelVersion,
      ServerVersion: "28.0.0",
      Runtimes: runtimes,
    },
  };
}

describe("supportsRecursiveReadOnly", () => {
  const cases: Array<{ api: string; kernel: string; want: boolean }> = [
    { api: "1.44", kernel: "5.12.0", want: true },
    { api: "1.44", kernel: "5.11.22", want: false },
    { api: "1.43", kernel: "6.8.0", want: false },
    { api: "1.41", kernel: "6.8.0", want: false },
    { api: "1.45", kernel: "5.15.0-1034-azure", want: true },
    { api: "1.51", kernel: "6.1.0-18-amd64", want: true },
    { api: "1.51", kernel: "5.4.0-150-generic", want: false },
    { api: "1.51", kernel: "4.19.112", want: false },
    { api: "1.51", kernel: "5.12", want: true },
    { api: "1.51", kernel: "6.0", want: true },
    { api: "1.51", kernel: "5.10.0-rc1", want: false },
    { api: "1.51", kernel: "", want: false },
    { api: "1.51", kernel: "unknown", want: false },
  ];
  for (const { api, kernel, want } of cases) {
    test(`API ${api} × kernel ${JSON.stringify(kernel)} → ${want}`, () => {
      assert.equal(supportsRecursiveReadOnly(api, kernel), want);
    });
  }
});

describe("runtimeHandlers", () => {
  test("lists the default handler first, then the engine's runtimes sorted", () => {
    const handlers = runtimeHandlers(
      facts("1.44", "6.8.0", { runsc: {}, "io.containerd.runc.v2": {}, crun: {}, runc: {} }),
    );
    assert.deepEqual(
      handlers.map((handler) => handler.name),
      [DEFAULT_HANDLER, "crun", "io.containerd.runc.v2", "runc", "runsc"],
    );
    assert.equal(DEFAULT_HANDLER, "");
  });

  test("only the default handler when the engine reports no runtimes", () => {
    assert.deepEqual(
      runtimeHandlers(facts("1.44", "6.8.0")).map((handler) => handler.name),
      [""],
    );
  });

  const features: Array<{ api: string; kernel: string; rro: boolean }> = [
    { api: "1.44", kernel: "6.8.0", rro: true },
    { api: "1.43", kernel: "6.8.0", rro: false },
    { api: "1.44", kernel: "5.10.0", rro: false },
  ];
  for (const { api, kernel, rro } of features) {
    test(`every handler gets recursiveReadOnlyMounts=${rro} for API ${api}, kernel ${kernel}; no user namespaces`, () => {
      const handlers = runtimeHandlers(facts(api, kernel, { runc: {} }));
      assert.equal(handlers.length, 2);
      for (const handler of handlers) {
        assert.deepEqual(handler.features, { recursiveReadOnlyMounts: rro, userNamespaces: false });
      }
    });
  }
});
