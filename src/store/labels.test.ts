import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  appContainerName,
  berthLabels,
  instanceFilter,
  instanceOf,
  kindOf,
  kubernetesLabels,
  LABEL_CONFIG,
  LABEL_INSTANCE,
  LABEL_KIND,
  LABEL_MANAGED,
  sandboxContainerName,
} from "./labels.ts";

describe("labels", () => {
  test("berthLabels: CRI labels kept, berth's namespace reserved, berth's own set last", () => {
    const labels = berthLabels({
      kind: "sandbox",
      instance: "abc",
      configJson: '{"a":1}',
      criLabels: { app: "web", "io.berth.kind": "container", "io.berth.managed": "false" },
      extra: { "io.kubernetes.pod.name": "web" },
    });
    assert.deepEqual(labels, {
      app: "web",
      "io.kubernetes.pod.name": "web",
      [LABEL_MANAGED]: "true",
      [LABEL_INSTANCE]: "abc",
      [LABEL_KIND]: "sandbox",
      [LABEL_CONFIG]: '{"a":1}',
    });
  });

  test("kindOf: only managed containers of a known kind", () => {
    assert.equal(kindOf({ [LABEL_MANAGED]: "true", [LABEL_KIND]: "sandbox" }), "sandbox");
    assert.equal(kindOf({ [LABEL_MANAGED]: "true", [LABEL_KIND]: "container" }), "container");
    assert.equal(kindOf({ [LABEL_MANAGED]: "true", [LABEL_KIND]: "volume" }), undefined);
    assert.equal(kindOf({ [LABEL_MANAGED]: "false", [LABEL_KIND]: "sandbox" }), undefined);
    assert.equal(kindOf(null), undefined);
    assert.equal(kindOf(undefined), undefined);
  });

  test("instanceOf: 16 hex of the resolved root; the same root the same instance", () => {
    const a = instanceOf("/var/lib/berth");
    assert.match(a, /^[0-9a-f]{16}$/);
    assert.equal(instanceOf("/var/lib/berth/"), a);
    assert.equal(instanceOf("/var/lib/../lib/berth"), a);
    assert.notEqual(instanceOf("/var/lib/berth2"), a);
    assert.deepEqual(instanceFilter(a), {
      label: [`${LABEL_MANAGED}=true`, `${LABEL_INSTANCE}=${a}`],
    });
  });

  test("dockershim's container names and the kubelet's labels", () => {
    const pod = { name: "web", namespace: "ns", uid: "u1" };
    assert.equal(sandboxContainerName({ ...pod, attempt: 2 }), "k8s_POD_web_ns_u1_2");
    assert.equal(appContainerName({ name: "app", attempt: 0 }, pod), "k8s_app_web_ns_u1_0");
    assert.deepEqual(kubernetesLabels({ ...pod, container: "app" }), {
      "io.kubernetes.pod.name": "web",
      "io.kubernetes.pod.namespace": "ns",
      "io.kubernetes.pod.uid": "u1",
      "io.kubernetes.container.name": "app",
    });
    assert.equal("io.kubernetes.container.name" in kubernetesLabels(pod), false);
  });
});
