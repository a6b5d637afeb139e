import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { assertInvalid } from "../../test/support/spec-fixtures.ts";
import { LinuxContainerResourcesSchema } from "../gen/runtime/v1/api_pb.js";
import {
  buildUpdateResources,
  cgroupParentFor,
  type ResourceSettings,
  resourceSettings,
} from "./resources-spec.ts";

const V1 = { cgroupVersion: 1 as const, minOomScoreAdj: -1000 };
const V2 = { cgroupVersion: 2 as const, minOomScoreAdj: -1000 };
const MIB = 1024n * 1024n;

function res(init: MessageInitShape<typeof LinuxContainerResourcesSchema>) {
  return create(LinuxContainerResourcesSchema, init);
}

describe("resourceSettings", () => {
  const cases: Array<{
    name: string;
    resources: ReturnType<typeof res> | undefined;
    limits?: typeof V1 | typeof V2 | { cgroupVersion: 1 | 2; minOomScoreAdj: number };
    want: ResourceSettings;
  }> = [
    { name: "no resources", resources: undefined, want: {} },
    { name: "all zero means nothing specified", resources: res({}), want: {} },
    {
      name: "cpu shares, period and quota",
      resources: res({ cpuShares: 512n, cpuPeriod: 100_000n, cpuQuota: 50_000n }),
      want: { CpuShares: 512, CpuPeriod: 100_000, CpuQuota: 50_000 },
    },
    {
      name: "quota -1 is no quota",
      resources: res({ cpuQuota: -1n }),
      want: { CpuQuota: -1 },
    },
    {
      name: "cpusets",
      resources: res({ cpusetCpus: "0-1", cpusetMems: "0" }),
      want: { CpusetCpus: "0-1", CpusetMems: "0" },
    },
    {
      name: "memory without swap field: swap equals memory (no swap), not Docker's double",
      resources: res({ memoryLimitInBytes: 64n * MIB }),
      want: { Memory: 67_108_864, MemorySwap: 67_108_864 },
    },
    {
      name: "memory with swap -1: unlimited swap",
      resources: res({ memoryLimitInBytes: 64n * MIB, memorySwapLimitInBytes: -1n }),
      want: { Memory: 67_108_864, MemorySwap: -1 },
    },
    {
      name: "memory with an explicit memory+swap total",
      resources: res({ memoryLimitInBytes: 64n * MIB, memorySwapLimitInBytes: 128n * MIB }),
      want: { Memory: 67_108_864, MemorySwap: 134_217_728 },
    },
    {
      name: "the kubelet's NoSwap on cgroup v1 (swap = memory)",
      resources: res({ memoryLimitInBytes: 64n * MIB, memorySwapLimitInBytes: 64n * MIB }),
      want: { Memory: 67_108_864, MemorySwap: 67_108_864 },
    },
    {
      name: "swap -1 without memory changes nothing",
      resources: res({ memorySwapLimitInBytes: -1n }),
      want: {},
    },
    {
      name: "oom_score_adj within the host's range",
      resources: res({ oomScoreAdj: -997n }),
      want: { OomScoreAdj: -997 },
    },
    {
      name: "oom_score_adj clamped to the host's minimum",
      resources: res({ oomScoreAdj: -997n }),
      limits: { cgroupVersion: 1, minOomScoreAdj: 0 },
      want: {},
    },
    {
      name: "oom_score_adj above the host's minimum kept",
      resources: res({ oomScoreAdj: 1000n }),
      limits: { cgroupVersion: 1, minOomScoreAdj: 0 },
      want: { OomScoreAdj: 1000 },
    },
    {
      name: "cgroup v2 memory.swap.max 0: no swap",
      resources: res({ memoryLimitInBytes: 64n * MIB, unified: { "memory.swap.max": "0" } }),
      limits: V2,
      want: { Memory: 67_108_864, MemorySwap: 67_108_864 },
    },
    {
      name: "cgroup v2 memory.swap.max N: memory plus N",
      resources: res({
        memoryLimitInBytes: 64n * MIB,
        memorySwapLimitInBytes: 64n * MIB,
        unified: { "memory.swap.max": String(32n * MIB) },
      }),
      limits: V2,
      want: { Memory: 67_108_864, MemorySwap: 100_663_296 },
    },
    {
      name: "cgroup v2 memory.swap.max max: unlimited",
      resources: res({ memoryLimitInBytes: 64n * MIB, unified: { "memory.swap.max": "max" } }),
      limits: V2,
      want: { Memory: 67_108_864, MemorySwap: -1 },
    },
    {
      name: "cgroup v2 pids.max",
      resources: res({ unified: { "pids.max": "100" } }),
      limits: V2,
      want: { PidsLimit: 100 },
    },
    {
      name: "cgroup v2 pids.max max",
      resources: res({ unified: { "pids.max": "max" } }),
      limits: V2,
      want: { PidsLimit: -1 },
    },
  ];
  for (const { name, resources, limits, want } of cases) {
    test(name, () => assert.deepEqual(resourceSettings(resources, limits ?? V1).settings, want));
  }

  const warnings: Array<{ name: string; resources: ReturnType<typeof res>; want: RegExp[] }> = [
    {
      name: "the kubelet's zero hugepage limits are silently dropped",
      resources: res({
        hugepageLimits: [
          { pageSize: "2MB", limit: 0n },
          { pageSize: "1GB", limit: 0n },
        ],
      }),
      want: [],
    },
    {
      name: "a requested hugepage limit is dropped with a warning",
      resources: res({ hugepageLimits: [{ pageSize: "2MB", limit: 4n * MIB }] }),
      want: [/^linux\.resources\.hugepage_limits\[0\]: 2MB limit not applied/],
    },
    {
      name: "memory.oom.group is dropped with a warning",
      resources: res({ unified: { "memory.oom.group": "1" } }),
      want: [/^linux\.resources\.unified\["memory\.oom\.group"\]: not applied/],
    },
    {
      name: "swap.max without a memory limit is dropped with a warning",
      resources: res({ unified: { "memory.swap.max": "0" } }),
      want: [/^linux\.resources\.unified\["memory\.swap\.max"\]: not applied/],
    },
  ];
  for (const { name, resources, want } of warnings) {
    test(name, () => {
      const got = resourceSettings(resources, V2).warnings;
      assert.equal(got.length, want.length, JSON.stringify(got));
      want.forEach((pattern, i) => {
        assert.match(got[i] ?? "", pattern);
      });
    });
  }

  const errors: Array<{
    name: string;
    resources: ReturnType<typeof res>;
    limits?: typeof V1 | typeof V2;
    message: RegExp;
  }> = [
    {
      name: "a swap total below memory",
      resources: res({ memoryLimitInBytes: 64n * MIB, memorySwapLimitInBytes: 32n * MIB }),
      message: /^linux\.resources\.memory_swap_limit_in_bytes: .*below memory_limit_in_bytes/,
    },
    {
      name: "a swap total without memory",
      resources: res({ memorySwapLimitInBytes: 32n * MIB }),
      message: /^linux\.resources\.memory_swap_limit_in_bytes: needs memory_limit_in_bytes/,
    },
    {
      name: "a swap value below -1",
      resources: res({ memoryLimitInBytes: 64n * MIB, memorySwapLimitInBytes: -2n }),
      message: /^linux\.resources\.memory_swap_limit_in_bytes: -2 is out of range/,
    },
    {
      name: "a negative memory limit",
      resources: res({ memoryLimitInBytes: -5n }),
      message: /^linux\.resources\.memory_limit_in_bytes: -5 is out of range/,
    },
    {
      name: "oom_score_adj above 1000",
      resources: res({ oomScoreAdj: 1001n }),
      message: /^linux\.resources\.oom_score_adj: 1001 is out of range/,
    },
    {
      name: "oom_score_adj below -1000",
      resources: res({ oomScoreAdj: -1001n }),
      message: /^linux\.resources\.oom_score_adj: -1001 is out of range/,
    },
    {
      name: "unified settings on cgroup v1",
      resources: res({ unified: { "memory.swap.max": "0" } }),
      limits: V1,
      message: /^linux\.resources\.unified: cgroup v2 settings on a cgroup v1 host/,
    },
    {
      name: "a unified key Docker has no field for",
      resources: res({ unified: { "io.max": "8:0 rbps=1" } }),
      limits: V2,
      message: /^linux\.resources\.unified\["io\.max"\]: Docker Engine has no setting for it/,
    },
    {
      name: "an unreadable memory.swap.max",
      resources: res({ memoryLimitInBytes: MIB, unified: { "memory.swap.max": "lots" } }),
      limits: V2,
      message: /^linux\.resources\.unified\["memory\.swap\.max"\]: "lots"/,
    },
  ];
  for (const { name, resources, limits, message } of errors) {
    test(`rejects ${name}`, () =>
      assertInvalid(() => resourceSettings(resources, limits ?? V1), message));
  }
});

describe("buildUpdateResources", () => {
  test("sends memory and swap together and leaves oom_score_adj out", () => {
    const { body, warnings } = buildUpdateResources(
      res({
        cpuShares: 1024n,
        cpuQuota: 20_000n,
        cpuPeriod: 100_000n,
        memoryLimitInBytes: 256n * MIB,
        oomScoreAdj: 999n,
        cpusetCpus: "1",
      }),
      V1,
    );
    assert.deepEqual(body, {
      CpuShares: 1024,
      CpuQuota: 20_000,
      CpuPeriod: 100_000,
      CpusetCpus: "1",
      Memory: 268_435_456,
      MemorySwap: 268_435_456,
    });
    assert.deepEqual(warnings, []);
  });
  test("nothing to update", () => assert.deepEqual(buildUpdateResources(undefined, V1).body, {}));
  test("rejects what create rejects", () =>
    assertInvalid(
      () => buildUpdateResources(res({ memorySwapLimitInBytes: MIB }), V1),
      /^linux\.resources\.memory_swap_limit_in_bytes:/,
    ));
});

describe("cgroupParentFor", () => {
  const cases: Array<{ parent: string; driver: "cgroupfs" | "systemd"; want: string | undefined }> =
    [
      { parent: "", driver: "cgroupfs", want: undefined },
      { parent: "", driver: "systemd", want: undefined },
      {
        parent: "/kubepods/burstable/pod123",
        driver: "cgroupfs",
        want: "/kubepods/burstable/pod123",
      },
      {
        parent: "/kubepods/burstable/pod5f2c-4a1b-9e7d",
        driver: "systemd",
        want: "kubepods-burstable-pod5f2c_4a1b_9e7d.slice",
      },
      { parent: "/kubepods/podabc", driver: "systemd", want: "kubepods-podabc.slice" },
      { parent: "/kubepods", driver: "systemd", want: "kubepods.slice" },
      {
        parent: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12_34.slice",
        driver: "systemd",
        want: "kubepods-besteffort-pod12_34.slice",
      },
      { parent: "kubepods-pod1.slice", driver: "systemd", want: "kubepods-pod1.slice" },
      { parent: "/", driver: "systemd", want: undefined },
      {
        parent: "/kubepods.slice/kubepods-burstable.slice",
        driver: "cgroupfs",
        want: "/kubepods.slice/kubepods-burstable.slice",
      },
    ];
  for (const { parent, driver, want } of cases) {
    test(`${driver}: ${JSON.stringify(parent)} → ${JSON.stringify(want)}`, () =>
      assert.equal(cgroupParentFor(parent, driver), want));
  }
});
