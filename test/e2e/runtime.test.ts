import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { CgroupDriver } from "../../src/gen/runtime/v1/api_pb.js";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { testDocker } from "../support/docker.ts";
import { expectCode } from "../support/grpc.ts";

const docker = testDocker();
const cniDir = mkdtempSync(join(tmpdir(), "berth-cni-"));
let berth: BerthProcess;

before(async () => {
  berth = await startBerth({ args: ["--cni-conf-dir", cniDir, "--no-default-network"] });
});
after(async () => {
  await berth.stop();
  rmSync(dirname(berth.rootDir), { recursive: true, force: true });
  rmSync(cniDir, { recursive: true, force: true });
  await docker.close();
});

function condition(
  response: Awaited<ReturnType<typeof berth.client.runtime.status>>,
  type: string,
) {
  const found = response.status?.conditions.find((c) => c.type === type);
  assert.ok(found, `no ${type} condition`);
  return found;
}

describe("runtime basics", () => {
  test("Version names the CRI version the kubelet accepts and the engine's version", async () => {
    const engine = await docker.version();
    const version = await berth.client.runtime.version({ version: "v1" });
    assert.equal(version.version, "0.1.0");
    assert.equal(version.runtimeName, "docker");
    assert.equal(version.runtimeVersion, engine.Version);
    assert.equal(version.runtimeApiVersion, "v1");
  });

  test("Status reports RuntimeReady from the engine and the default runtime handler", async () => {
    const response = await berth.client.runtime.status({});
    assert.equal(condition(response, "RuntimeReady").status, true);
    const handlers = response.runtimeHandlers;
    assert.equal(handlers[0]?.name, "", "the default handler comes first");
    const info = await docker.info();
    for (const runtime of Object.keys(info.Runtimes ?? {})) {
      assert.ok(
        handlers.some((h) => h.name === runtime),
        `handler ${runtime} listed`,
      );
    }
    // Docker 20.10 (API 1.41) cannot make read-only binds recursive; no user namespaces.
    const api = await docker.apiVersion();
    if (api === "1.41") assert.equal(handlers[0]?.features?.recursiveReadOnlyMounts, false);
    assert.equal(handlers[0]?.features?.userNamespaces, false);
    assert.ok(response.features, "features present");
    assert.deepEqual(response.info, {}, "no verbose info unless asked");
  });

  test("Status verbose carries config and engine facts as JSON", async () => {
    const response = await berth.client.runtime.status({ verbose: true });
    const config = JSON.parse(response.info.config ?? "{}");
    const engine = JSON.parse(response.info.engine ?? "{}");
    assert.equal(config.cniConfDir, cniDir);
    assert.equal(engine.apiVersion, await docker.apiVersion());
    assert.equal(engine.dockerRootDir, (await docker.info()).DockerRootDir);
  });

  test("NetworkReady is false with a reason until a CNI config is loadable", async () => {
    let network = condition(await berth.client.runtime.status({}), "NetworkReady");
    assert.equal(network.status, false);
    assert.equal(network.reason, "NetworkPluginNotReady");
    assert.match(network.message, /no CNI network config/);

    writeFileSync(join(cniDir, "05-broken.conflist"), "{ not json");
    network = condition(await berth.client.runtime.status({}), "NetworkReady");
    assert.equal(network.status, false);
    assert.match(network.message, /05-broken\.conflist/);

    writeFileSync(
      join(cniDir, "10-test.conflist"),
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "test",
        plugins: [{ type: "bridge", bridge: "cni-test0" }],
      }),
    );
    network = condition(await berth.client.runtime.status({}), "NetworkReady");
    assert.equal(network.status, true);
  });

  test("RuntimeConfig names the engine's cgroup driver explicitly", async () => {
    const info = await docker.info();
    const response = await berth.client.runtime.runtimeConfig({});
    const expected = info.CgroupDriver === "systemd" ? CgroupDriver.SYSTEMD : CgroupDriver.CGROUPFS;
    assert.equal(response.linux?.cgroupDriver, expected);
  });

  test("UpdateRuntimeConfig keeps the pod CIDR, across a restart, and ignores an empty one", async () => {
    await berth.client.runtime.updateRuntimeConfig({
      runtimeConfig: { networkConfig: { podCidr: "10.244.3.0/24" } },
    });
    await berth.client.runtime.updateRuntimeConfig({
      runtimeConfig: { networkConfig: { podCidr: "" } },
    });
    const podCidrOf = async (b: BerthProcess) =>
      JSON.parse((await b.client.runtime.status({ verbose: true })).info.config ?? "{}").podCidr;
    assert.equal(await podCidrOf(berth), "10.244.3.0/24");

    await berth.stop({ keepState: true });
    berth = await startBerth({
      rootDir: berth.rootDir,
      args: ["--cni-conf-dir", cniDir, "--no-default-network"],
    });
    assert.equal(await podCidrOf(berth), "10.244.3.0/24");
  });

  test("UpdateRuntimeConfig refuses a malformed CIDR", async () => {
    await expectCode(
      berth.client.runtime.updateRuntimeConfig({
        runtimeConfig: { networkConfig: { podCidr: "10.244.3.0/99" } },
      }),
      status.INVALID_ARGUMENT,
      /not a CIDR/,
    );
  });
});
