import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { ContainerState, SupplementalGroupsPolicy } from "../../src/gen/runtime/v1/api_pb.js";
import {
  BUSYBOX,
  type ContainerEnv,
  containerConfig,
  containerStatus,
  createContainer,
  logText,
  type Pod,
  readCriLog,
  runPod,
  startContainerEnv,
  waitFor,
  waitForState,
} from "../support/containers.ts";

/**
 * SupplementalGroupsPolicy as critest checks it, on an image like its
 * test-image-predefined-group: user default-user (1000:1000), a member of
 * group-defined-in-image (50000) in the image's /etc/group. Merge keeps that membership,
 * Strict drops it; ContainerStatus.user says so before, while and after the process runs.
 */

const IMAGE = "berth-test/predefined-group:1.0";
const UID = 1000n;
const IMAGE_GROUP = 50000n;
const EXTRA_GROUP = 1234n;
let env: ContainerEnv;
let pod: Pod;

before(async () => {
  execFileSync("docker", ["build", "--network", "none", "-q", "-t", IMAGE, "-"], {
    input: [
      `FROM ${BUSYBOX}`,
      "RUN echo 'default-user:x:1000:1000::/home/default-user:/bin/sh' >> /etc/passwd \\",
      " && echo 'default-user:x:1000:' >> /etc/group \\",
      " && echo 'group-defined-in-image:x:50000:default-user' >> /etc/group",
      "USER 1000",
      "",
    ].join("\n"),
    stdio: ["pipe", "pipe", "pipe"],
  });
  env = await startContainerEnv();
  pod = await runPod(env, "supplemental-groups");
});

after(async () => {
  await env.close();
  execFileSync("docker", ["rmi", IMAGE], { stdio: "ignore" });
});

async function groupsInEveryState(
  name: string,
  securityContext: {
    runAsUser?: { value: bigint };
    supplementalGroupsPolicy: SupplementalGroupsPolicy;
  },
  expected: bigint[],
): Promise<void> {
  const container = await createContainer(
    env,
    pod,
    containerConfig(name, {
      image: { image: IMAGE, userSpecifiedImage: IMAGE },
      command: ["sh", "-c", "id -G; sleep 3600"],
      linux: { securityContext: { ...securityContext, supplementalGroups: [EXTRA_GROUP] } },
    }),
  );
  const identity = { uid: UID, gid: UID, supplementalGroups: expected };
  const userOf = async () => (await containerStatus(env, container.id)).user?.linux;
  assert.deepEqual(await userOf(), { ...identity, $typeName: "runtime.v1.LinuxContainerUser" });

  await env.berth.client.runtime.startContainer({ containerId: container.id });
  await waitForState(env, container.id, ContainerState.CONTAINER_RUNNING);
  assert.deepEqual(await userOf(), { ...identity, $typeName: "runtime.v1.LinuxContainerUser" });
  const printed = expected.join(" ");
  await waitFor("id -G in the log", () => logText(readCriLog(container.logPath)).length > 0);
  assert.deepEqual(logText(readCriLog(container.logPath)), [printed], "the first process");
  const exec = await env.berth.client.runtime.execSync({
    containerId: container.id,
    cmd: ["id", "-G"],
    timeout: 10n,
  });
  assert.equal(Buffer.from(exec.stdout).toString(), `${printed}\n`, "an exec'ed process");

  await env.berth.client.runtime.stopContainer({ containerId: container.id, timeout: 0n });
  await waitForState(env, container.id, ContainerState.CONTAINER_EXITED);
  assert.deepEqual(await userOf(), { ...identity, $typeName: "runtime.v1.LinuxContainerUser" });
}

describe("SupplementalGroupsPolicy", () => {
  test("Status reports the feature", async () => {
    const status = await env.berth.client.runtime.status({});
    assert.equal(status.features?.supplementalGroupsPolicy, true);
  });

  test("Merge: the image's /etc/group membership is kept", async () => {
    await groupsInEveryState(
      "sgp-merge",
      { runAsUser: { value: UID }, supplementalGroupsPolicy: SupplementalGroupsPolicy.Merge },
      [UID, EXTRA_GROUP, IMAGE_GROUP],
    );
  });

  test("Strict: only the user's group and the pod's supplemental groups", async () => {
    await groupsInEveryState(
      "sgp-strict",
      { runAsUser: { value: UID }, supplementalGroupsPolicy: SupplementalGroupsPolicy.Strict },
      [UID, EXTRA_GROUP],
    );
  });

  test("Strict with the image's own user (no run_as_user)", async () => {
    await groupsInEveryState(
      "sgp-strict-image-user",
      { supplementalGroupsPolicy: SupplementalGroupsPolicy.Strict },
      [UID, EXTRA_GROUP],
    );
  });
});
