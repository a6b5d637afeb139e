import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { FakeEngine } from "../../test/support/fake-engine.ts";
import type { ContainerInspect } from "../docker/types.ts";
import { MountPropagation, NamespaceMode, Protocol } from "../gen/runtime/v1/api_pb.js";
import {
  criDockerdContainerOf,
  criDockerdKindOf,
  criDockerdSandboxOf,
  criDockerdStatusImage,
  criDockerdStatusImageRef,
  listedCreatedAt,
  parseCriDockerdName,
  splitCriDockerdLabels,
} from "./cri-dockerd-records.ts";

const SANDBOX_ID = "a".repeat(64);

describe("parseCriDockerdName", () => {
  const cases: Array<[string, ReturnType<typeof parseCriDockerdName>]> = [
    [
      "/k8s_POD_web_default_uid-1_0",
      { container: "POD", pod: "web", namespace: "default", uid: "uid-1", attempt: 0 },
    ],
    [
      "k8s_nginx_web_kube-system_uid-2_3",
      { container: "nginx", pod: "web", namespace: "kube-system", uid: "uid-2", attempt: 3 },
    ],
    // cri-dockerd's random suffix after a name conflict.
    [
      "/k8s_app_web_ns_u_1_0a1b2c3d",
      { container: "app", pod: "web", namespace: "ns", uid: "u", attempt: 1 },
    ],
    ["/k8s_app_web_ns_u", undefined],
    ["/k8s_app_web_ns_u_x", undefined],
    ["/k8s_app_web_ns_u_-1", undefined],
    ["/k8s_app_web_ns_u_4294967296", undefined],
    ["/docker_app_web_ns_u_1", undefined],
    ["/k8s_a_b_c_d_1_2_3", undefined],
    ["/berth-thing", undefined],
  ];
  for (const [name, want] of cases) {
    test(name, () => assert.deepEqual(parseCriDockerdName(name), want));
  }
});

describe("splitCriDockerdLabels", () => {
  test("drops cri-dockerd's internal labels and turns annotation.* back into annotations", () => {
    const split = splitCriDockerdLabels({
      "io.kubernetes.docker.type": "container",
      "io.kubernetes.sandbox.id": SANDBOX_ID,
      "io.kubernetes.container.logpath": "/var/log/pods/x/c/0.log",
      "io.kubernetes.container.name": "c",
      "io.kubernetes.pod.name": "web",
      "annotation.io.kubernetes.container.hash": "abc",
      "annotation.": "empty key",
      app: "web",
    });
    assert.deepEqual(split.labels, {
      "io.kubernetes.container.name": "c",
      "io.kubernetes.pod.name": "web",
      app: "web",
    });
    assert.deepEqual(split.annotations, { "io.kubernetes.container.hash": "abc", "": "empty key" });
  });

  test("hides the container-name label cri-dockerd puts on sandboxes", () => {
    const split = splitCriDockerdLabels({
      "io.kubernetes.docker.type": "podsandbox",
      "io.kubernetes.container.name": "POD",
      app: "web",
    });
    assert.deepEqual(split.labels, { app: "web" });
  });
});

describe("records of cri-dockerd's containers", () => {
  let engine: FakeEngine;

  beforeEach(() => {
    engine = new FakeEngine();
    engine.addImage(["busybox:latest"]);
  });

  async function inspectOf(
    name: string,
    labels: Record<string, string>,
    extra: object = {},
  ): Promise<ContainerInspect> {
    const { Id } = await engine.createContainer(name, {
      Image: "busybox:latest",
      Labels: labels,
      ...extra,
    });
    return engine.inspectContainer(Id);
  }

  test("a pause container becomes a sandbox with cri-dockerd's metadata and namespace modes", async () => {
    const inspect = await inspectOf(
      "k8s_POD_web_default_uid-1_2",
      {
        "io.kubernetes.docker.type": "podsandbox",
        "io.kubernetes.container.name": "POD",
        "io.kubernetes.pod.name": "web",
        "annotation.kubernetes.io/config.source": "api",
      },
      { Hostname: "web", HostConfig: { NetworkMode: "host", IpcMode: "host" } },
    );
    const record = criDockerdSandboxOf(inspect, [
      { protocol: "udp", containerPort: 53, hostPort: 5353, hostIP: "127.0.0.1" },
    ]);
    assert.ok(record);
    assert.equal(record.id, inspect.Id);
    assert.equal(record.name, "k8s_POD_web_default_uid-1_2");
    assert.deepEqual(
      { ...record.config.metadata },
      {
        $typeName: "runtime.v1.PodSandboxMetadata",
        name: "web",
        namespace: "default",
        uid: "uid-1",
        attempt: 2,
      },
    );
    assert.deepEqual(record.config.labels, { "io.kubernetes.pod.name": "web" });
    assert.deepEqual(record.config.annotations, { "kubernetes.io/config.source": "api" });
    assert.equal(record.config.hostname, "web");
    assert.equal(record.config.logDirectory, "/var/log/pods/default_web_uid-1");
    const ns = record.config.linux?.securityContext?.namespaceOptions;
    assert.equal(ns?.network, NamespaceMode.NODE);
    assert.equal(ns?.ipc, NamespaceMode.NODE);
    // cri-dockerd reports the pause container's own PID namespace as CONTAINER.
    assert.equal(ns?.pid, NamespaceMode.CONTAINER);
    assert.equal(record.config.portMappings[0]?.protocol, Protocol.UDP);
    assert.equal(record.config.portMappings[0]?.hostPort, 5353);
    assert.equal(record.config.portMappings[0]?.hostIp, "127.0.0.1");
    assert.equal(record.createdAt > 0n, true);
    assert.equal(record.network, undefined);
    assert.equal(record.criDockerd, true);
  });

  test("an application container keeps its sandbox, log path, image and process", async () => {
    const inspect = await inspectOf(
      "k8s_app_web_default_uid-1_1",
      {
        "io.kubernetes.docker.type": "container",
        "io.kubernetes.sandbox.id": SANDBOX_ID,
        "io.kubernetes.container.logpath": "/var/log/pods/default_web_uid-1/app/1.log",
        "io.kubernetes.container.name": "app",
        "annotation.io.kubernetes.container.restartCount": "1",
      },
      {
        Entrypoint: ["/bin/sh"],
        Cmd: ["-c", "sleep 1"],
        Env: ["A=1=2", "B"],
        WorkingDir: "/w",
        Tty: true,
      },
    );
    const record = criDockerdContainerOf(inspect);
    assert.ok(record);
    assert.equal(record.sandboxId, SANDBOX_ID);
    assert.equal(record.logPath, "/var/log/pods/default_web_uid-1/app/1.log");
    assert.equal(record.config.logPath, "app/1.log");
    assert.equal(record.config.metadata?.name, "app");
    assert.equal(record.config.metadata?.attempt, 1);
    assert.equal(record.config.image?.image, "busybox:latest");
    assert.equal(record.userImage, "busybox:latest");
    assert.equal(record.imageId, inspect.Image);
    assert.deepEqual(record.config.command, ["/bin/sh"]);
    assert.deepEqual(record.config.args, ["-c", "sleep 1"]);
    const decoder = new TextDecoder();
    assert.deepEqual(
      record.config.envs.map((env) => [env.key, decoder.decode(env.value)]),
      [
        ["A", "1=2"],
        ["B", ""],
      ],
    );
    assert.equal(record.config.tty, true);
    assert.deepEqual(record.config.labels, { "io.kubernetes.container.name": "app" });
    assert.deepEqual(record.config.annotations, { "io.kubernetes.container.restartCount": "1" });
    assert.equal(record.process.status, "created");
    assert.equal(record.criDockerd, true);
  });

  test("mounts are reported as the engine has them", async () => {
    const inspect = await inspectOf("k8s_app_web_default_u_0", {
      "io.kubernetes.docker.type": "container",
      "io.kubernetes.sandbox.id": SANDBOX_ID,
    });
    inspect.Mounts = [
      { Type: "bind", Source: "/h", Destination: "/c", Mode: "", RW: false, Propagation: "rslave" },
    ];
    const mount = criDockerdContainerOf(inspect)?.config.mounts[0];
    assert.equal(mount?.hostPath, "/h");
    assert.equal(mount?.containerPath, "/c");
    assert.equal(mount?.readonly, true);
    assert.equal(mount?.propagation, MountPropagation.PROPAGATION_HOST_TO_CONTAINER);
  });

  test("containers that are not cri-dockerd's are not taken", async () => {
    const plain = await inspectOf("k8s_app_web_default_u_0", { app: "x" });
    assert.equal(criDockerdKindOf(plain.Config.Labels), undefined);
    assert.equal(criDockerdContainerOf(plain), undefined);
    assert.equal(criDockerdSandboxOf(plain, []), undefined);
    const badName = await inspectOf("web-1", { "io.kubernetes.docker.type": "podsandbox" });
    assert.equal(criDockerdSandboxOf(badName, []), undefined);
    const noSandbox = await inspectOf("k8s_app_web_default_u_1", {
      "io.kubernetes.docker.type": "container",
      "io.kubernetes.sandbox.id": "not-an-id",
    });
    assert.equal(criDockerdContainerOf(noSandbox), undefined);
    // A sandbox label on an application container's name, and the reverse.
    const swapped = await inspectOf("k8s_POD_web_default_u_0", {
      "io.kubernetes.docker.type": "container",
      "io.kubernetes.sandbox.id": SANDBOX_ID,
    });
    assert.equal(criDockerdContainerOf(swapped), undefined);
  });
});

describe("reported as cri-dockerd reported it", () => {
  test("listed creation times are whole seconds for adopted records only", () => {
    const createdAt = 1_796_136_936_248_178_347n;
    assert.equal(listedCreatedAt({ createdAt, criDockerd: true }), 1_796_136_936_000_000_000n);
    assert.equal(listedCreatedAt({ createdAt }), createdAt);
  });

  test("ContainerStatus image is the image's first tag", () => {
    assert.equal(
      criDockerdStatusImage("busybox:1", ["reg:5000/busybox:1", "busybox:1"]),
      "reg:5000/busybox:1",
    );
    assert.equal(criDockerdStatusImage("busybox:1", []), "busybox:1");
    assert.equal(criDockerdStatusImage("busybox:1", undefined), "busybox:1");
  });

  test("ContainerStatus image_ref carries dockershim's prefixes", () => {
    const id = `sha256:${"b".repeat(64)}`;
    assert.equal(criDockerdStatusImageRef(id, undefined), `docker://${id}`);
    assert.equal(
      criDockerdStatusImageRef(id, `busybox@sha256:${"c".repeat(64)}`),
      `docker-pullable://busybox@sha256:${"c".repeat(64)}`,
    );
  });
});
