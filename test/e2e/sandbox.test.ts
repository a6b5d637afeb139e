import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { NamespaceMode, PodSandboxState, Protocol } from "../../src/gen/runtime/v1/api_pb.js";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { bridgePorts, reservations, TEST_GATEWAY, writeTestNetwork } from "../support/cni.ts";
import { testDocker } from "../support/docker.ts";
import { expectCode } from "../support/grpc.ts";
import { inNetns, namespaceOf } from "../support/netns.ts";
import { podConfig } from "../support/pods.ts";

const docker = testDocker();
const cniDir = mkdtempSync(join(tmpdir(), "berth-sandbox-cni-"));
let berth: BerthProcess;

function berthArgs(): string[] {
  return ["--cni-conf-dir", cniDir];
}

before(async () => {
  writeTestNetwork(cniDir);
  berth = await startBerth({ args: berthArgs() });
});
after(async () => {
  // Remove whatever a failed test left, through berth itself.
  const { items } = await berth.client.runtime.listPodSandbox({});
  for (const item of items) await berth.client.runtime.removePodSandbox({ podSandboxId: item.id });
  await berth.stop();
  rmSync(dirname(berth.rootDir), { recursive: true, force: true });
  rmSync(cniDir, { recursive: true, force: true });
  await docker.close();
});

async function run(config: ReturnType<typeof podConfig>) {
  const { podSandboxId } = await berth.client.runtime.runPodSandbox({ config });
  const inspect = await docker.inspectContainer(podSandboxId);
  return { id: podSandboxId, pid: inspect.State.Pid, config };
}

async function statusOf(id: string) {
  const response = await berth.client.runtime.podSandboxStatus({ podSandboxId: id });
  assert.ok(response.status);
  return response.status;
}

describe("pod sandboxes", () => {
  test("RunPodSandbox: READY, metadata/labels/annotations round-trip, IP from the pod CIDR", async () => {
    const pod = await run(podConfig("basic"));
    const sandbox = await statusOf(pod.id);
    assert.equal(sandbox.state, PodSandboxState.SANDBOX_READY);
    assert.deepEqual(sandbox.metadata?.name, pod.config.metadata?.name);
    assert.equal(sandbox.metadata?.uid, pod.config.metadata?.uid);
    assert.deepEqual(sandbox.labels, pod.config.labels);
    assert.deepEqual(sandbox.annotations, pod.config.annotations);
    assert.match(sandbox.network?.ip ?? "", /^10\.77\.0\.\d+$/, "an IP of the pod CIDR");
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    assert.ok(sandbox.createdAt > nowNs - 60_000_000_000n && sandbox.createdAt <= nowNs);
    assert.equal(sandbox.linux?.namespaces?.options?.network, NamespaceMode.POD);

    const inspect = await docker.inspectContainer(pod.id);
    const meta = pod.config.metadata;
    assert.equal(
      inspect.Name,
      `/k8s_POD_${meta?.name}_${meta?.namespace}_${meta?.uid}_${meta?.attempt}`,
    );
    assert.equal(inspect.Config.Labels?.["io.berth.managed"], "true");
    // The pod's interface really has that address.
    assert.match(
      inNetns(pod.pid, ["ip", "-4", "addr", "show", "eth0"]),
      new RegExp(sandbox.network?.ip ?? "x"),
    );
  });

  test("two pods reach each other by IP", async () => {
    const a = await run(podConfig("ping-a"));
    const b = await run(podConfig("ping-b"));
    const ipB = (await statusOf(b.id)).network?.ip ?? "";
    const output = inNetns(a.pid, ["busybox", "ping", "-c", "1", "-W", "3", ipB]);
    assert.match(output, /1 packets received/);
  });

  test("a hostPort answers from the host", async () => {
    const hostPort = 20000 + (process.pid % 10000);
    const pod = await run(
      podConfig("hostport", {
        portMappings: [
          { protocol: Protocol.TCP, containerPort: 8080, hostPort },
          // host_port 0 is only a declared port, not a host port: must not break anything.
          { protocol: Protocol.TCP, containerPort: 9090, hostPort: 0 },
        ],
      }),
    );
    const server = podServer(pod.pid, 8080);
    try {
      const reply = await tcpRead(TEST_GATEWAY, hostPort);
      assert.equal(reply.trim(), "hello from the pod");
    } finally {
      server.kill();
    }
  });

  test("DNS config and hostname are the pod's", async () => {
    const pod = await run(
      podConfig("dns", {
        hostname: "berth-dns-host",
        dnsConfig: {
          servers: ["10.77.0.53"],
          searches: ["svc.cluster.local"],
          options: ["ndots:5"],
        },
      }),
    );
    const resolv = readFileSync(`/proc/${pod.pid}/root/etc/resolv.conf`, "utf8");
    assert.match(resolv, /^nameserver 10\.77\.0\.53$/m);
    assert.match(resolv, /^search svc\.cluster\.local$/m);
    assert.match(resolv, /^options ndots:5$/m);
    assert.equal(
      readFileSync(`/proc/${pod.pid}/root/etc/hostname`, "utf8").trim(),
      "berth-dns-host",
    );
  });

  test("sysctls are applied in the pod", async () => {
    const pod = await run(
      podConfig("sysctl", {
        linux: {
          sysctls: { "net.ipv4.ip_local_port_range": "20000 21000" },
          securityContext: { namespaceOptions: { network: NamespaceMode.POD } },
        },
      }),
    );
    const range = inNetns(pod.pid, ["cat", "/proc/sys/net/ipv4/ip_local_port_range"]);
    assert.equal(range.trim().split(/\s+/).join(" "), "20000 21000");
  });

  test("host-network and host-IPC pods see the host's namespaces; NODE is reported", async () => {
    const pod = await run(podConfig("hostnet", { hostNetwork: true, hostIpc: true }));
    assert.equal(namespaceOf(pod.pid, "net"), namespaceOf("self", "net"));
    assert.equal(namespaceOf(pod.pid, "ipc"), namespaceOf("self", "ipc"));
    const sandbox = await statusOf(pod.id);
    assert.equal(sandbox.state, PodSandboxState.SANDBOX_READY);
    assert.equal(sandbox.linux?.namespaces?.options?.network, NamespaceMode.NODE);
    assert.equal(sandbox.linux?.namespaces?.options?.ipc, NamespaceMode.NODE);
  });

  test("pod IPC namespace is shareable and private to the pod", async () => {
    const pod = await run(podConfig("ipc"));
    assert.notEqual(namespaceOf(pod.pid, "ipc"), namespaceOf("self", "ipc"));
    const inspect = await docker.inspectContainer(pod.id);
    assert.equal(inspect.HostConfig.IpcMode, "shareable");
  });

  test("ListPodSandbox filters by id, state and labels", async () => {
    const pod = await run(podConfig("list"));
    const byId = await berth.client.runtime.listPodSandbox({ filter: { id: pod.id } });
    assert.deepEqual(
      byId.items.map((item) => item.id),
      [pod.id],
    );
    const byLabel = await berth.client.runtime.listPodSandbox({
      filter: { labelSelector: { app: "list" } },
    });
    assert.deepEqual(
      byLabel.items.map((item) => item.id),
      [pod.id],
    );
    await berth.client.runtime.stopPodSandbox({ podSandboxId: pod.id });
    const ready = await berth.client.runtime.listPodSandbox({
      filter: { id: pod.id, state: { state: PodSandboxState.SANDBOX_READY } },
    });
    assert.deepEqual(ready.items, []);
    const notReady = await berth.client.runtime.listPodSandbox({
      filter: { id: pod.id, state: { state: PodSandboxState.SANDBOX_NOTREADY } },
    });
    assert.equal(notReady.items.length, 1);
  });

  test("Stop releases the IP and the veth; Stop and Remove are idempotent", async () => {
    const before = reservations().length;
    const portsBefore = bridgePorts().length;
    const pod = await run(podConfig("stop"));
    assert.equal(reservations().length, before + 1);
    await berth.client.runtime.stopPodSandbox({ podSandboxId: pod.id });
    await berth.client.runtime.stopPodSandbox({ podSandboxId: pod.id });
    assert.equal(reservations().length, before);
    assert.equal(bridgePorts().length, portsBefore, "the veth is gone");
    const sandbox = await statusOf(pod.id);
    assert.equal(sandbox.state, PodSandboxState.SANDBOX_NOTREADY);
    assert.equal(sandbox.network?.ip, "");
    await berth.client.runtime.removePodSandbox({ podSandboxId: pod.id });
    await berth.client.runtime.removePodSandbox({ podSandboxId: pod.id });
    await berth.client.runtime.stopPodSandbox({ podSandboxId: "0".repeat(64) });
    assert.equal(await docker.findContainer(pod.id), undefined);
    assert.equal(existsSync(join(berth.rootDir, "sandboxes", `${pod.id}.json`)), false);
  });

  test("Remove of a running sandbox stops it first and releases its network", async () => {
    const before = reservations().length;
    const pod = await run(podConfig("remove-running"));
    await berth.client.runtime.removePodSandbox({ podSandboxId: pod.id });
    assert.equal(reservations().length, before);
    assert.equal(await docker.findContainer(pod.id), undefined);
    await expectCode(
      berth.client.runtime.podSandboxStatus({ podSandboxId: pod.id }),
      status.NOT_FOUND,
    );
  });

  test("a retried RunPodSandbox returns the existing sandbox", async () => {
    const config = podConfig("retry");
    const [first, second] = await Promise.all([
      berth.client.runtime.runPodSandbox({ config }),
      berth.client.runtime.runPodSandbox({ config }),
    ]);
    assert.equal(first.podSandboxId, second.podSandboxId);
    const third = await berth.client.runtime.runPodSandbox({ config });
    assert.equal(third.podSandboxId, first.podSandboxId);
  });

  test("bad input: missing metadata, unknown handler, unknown ids", async () => {
    await expectCode(berth.client.runtime.runPodSandbox({}), status.INVALID_ARGUMENT, /metadata/);
    await expectCode(
      berth.client.runtime.runPodSandbox({ config: podConfig("handler"), runtimeHandler: "nope" }),
      status.INVALID_ARGUMENT,
      /runtime_handler "nope"/,
    );
    await expectCode(
      berth.client.runtime.podSandboxStatus({ podSandboxId: "f".repeat(64) }),
      status.NOT_FOUND,
    );
  });
});

/** A one-line TCP server inside the pod's network namespace, run by this Node. */
function podServer(pid: number, port: number) {
  return spawn(
    "nsenter",
    [
      `--net=/proc/${pid}/ns/net`,
      "--",
      process.execPath,
      "-e",
      `require("node:net").createServer((s) => s.end("hello from the pod\\n")).listen(${port}, "0.0.0.0")`,
    ],
    { stdio: "ignore" },
  );
}

async function tcpRead(host: string, port: number): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const socket = connect(port, host);
        let data = "";
        socket.on("data", (chunk) => {
          data += chunk.toString();
        });
        socket.on("end", () => resolve(data));
        socket.on("error", reject);
        socket.setTimeout(3000, () => socket.destroy(new Error("timeout")));
      });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
