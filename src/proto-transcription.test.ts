import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import type { DescMessage } from "@bufbuild/protobuf";
import {
  AuthConfigSchema,
  ContainerConfigSchema,
  ContainerStatusSchema,
  ImageSchema,
  ImageService,
  ImageSpecSchema,
  LinuxContainerSecurityContextSchema,
  LinuxRuntimeConfigurationSchema,
  PodSandboxConfigSchema,
  PullImageRequestSchema,
  RunPodSandboxRequestSchema,
  RuntimeService,
  StatusResponseSchema,
} from "./gen/runtime/v1/api_pb.js";

/**
 * proto/runtime/v1/api.proto is a transcription of kubernetes/cri-api v0.36.3. Compiled
 * without source info, it must be byte-identical to the descriptor set of the upstream file;
 * the generated code must expose what the kubelet relies on.
 */
const REPO_ROOT = join(import.meta.dirname, "..");
const UPSTREAM_DESCRIPTOR_SHA256 =
  "93dadbb4eb4884948c9d7d36f24e652a28324685a693d852b77144011b55c2f0";

describe("CRI proto transcription", () => {
  test("the descriptor set is byte-identical to cri-api v0.36.3's", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-proto-test-"));
    try {
      const out = join(dir, "api.binpb");
      await promisify(execFile)(
        join(REPO_ROOT, "node_modules", ".bin", "buf"),
        ["build", "proto", "--exclude-source-info", "-o", out],
        { cwd: REPO_ROOT },
      );
      const digest = createHash("sha256")
        .update(await readFile(out))
        .digest("hex");
      assert.equal(digest, UPSTREAM_DESCRIPTOR_SHA256);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("the services are runtime.v1.RuntimeService and runtime.v1.ImageService", () => {
    assert.equal(RuntimeService.typeName, "runtime.v1.RuntimeService");
    assert.equal(ImageService.typeName, "runtime.v1.ImageService");
  });

  test("RuntimeService has its 35 RPCs in order", () => {
    assert.deepEqual(
      RuntimeService.methods.map((method) => method.name),
      [
        "Version",
        "RunPodSandbox",
        "StopPodSandbox",
        "RemovePodSandbox",
        "PodSandboxStatus",
        "ListPodSandbox",
        "StreamPodSandboxes",
        "CreateContainer",
        "StartContainer",
        "StopContainer",
        "RemoveContainer",
        "ListContainers",
        "StreamContainers",
        "ContainerStatus",
        "UpdateContainerResources",
        "ReopenContainerLog",
        "ExecSync",
        "Exec",
        "Attach",
        "PortForward",
        "ContainerStats",
        "ListContainerStats",
        "StreamContainerStats",
        "PodSandboxStats",
        "ListPodSandboxStats",
        "StreamPodSandboxStats",
        "UpdateRuntimeConfig",
        "Status",
        "CheckpointContainer",
        "GetContainerEvents",
        "ListMetricDescriptors",
        "ListPodSandboxMetrics",
        "StreamPodSandboxMetrics",
        "RuntimeConfig",
        "UpdatePodSandboxResources",
      ],
    );
  });

  test("ImageService has its 6 RPCs in order, 41 in all", () => {
    assert.deepEqual(
      ImageService.methods.map((method) => method.name),
      ["ListImages", "StreamImages", "ImageStatus", "PullImage", "RemoveImage", "ImageFsInfo"],
    );
    assert.equal(RuntimeService.methods.length + ImageService.methods.length, 41);
  });

  test("exactly the Stream* RPCs and GetContainerEvents are server-streaming", () => {
    const streaming = [...RuntimeService.methods, ...ImageService.methods]
      .filter((method) => method.methodKind !== "unary")
      .map((method) => `${method.name}:${method.methodKind}`);
    assert.deepEqual(streaming, [
      "StreamPodSandboxes:server_streaming",
      "StreamContainers:server_streaming",
      "StreamContainerStats:server_streaming",
      "StreamPodSandboxStats:server_streaming",
      "GetContainerEvents:server_streaming",
      "StreamPodSandboxMetrics:server_streaming",
      "StreamImages:server_streaming",
    ]);
  });

  const fieldNumbers: Array<{ schema: DescMessage; field: string; number: number }> = [
    { schema: ImageSpecSchema, field: "image", number: 1 },
    { schema: ImageSpecSchema, field: "user_specified_image", number: 18 },
    { schema: ImageSpecSchema, field: "runtime_handler", number: 19 },
    { schema: ImageSpecSchema, field: "image_ref", number: 20 },
    { schema: PodSandboxConfigSchema, field: "metadata", number: 1 },
    { schema: PodSandboxConfigSchema, field: "log_directory", number: 3 },
    { schema: PodSandboxConfigSchema, field: "linux", number: 8 },
    { schema: RunPodSandboxRequestSchema, field: "runtime_handler", number: 2 },
    { schema: ContainerConfigSchema, field: "log_path", number: 11 },
    { schema: ContainerConfigSchema, field: "CDI_devices", number: 17 },
    { schema: ContainerConfigSchema, field: "stop_signal", number: 18 },
    { schema: LinuxContainerSecurityContextSchema, field: "run_as_group", number: 12 },
    {
      schema: LinuxContainerSecurityContextSchema,
      field: "supplemental_groups_policy",
      number: 17,
    },
    { schema: ContainerStatusSchema, field: "image_ref", number: 9 },
    { schema: ContainerStatusSchema, field: "image_id", number: 17 },
    { schema: ContainerStatusSchema, field: "user", number: 18 },
    { schema: ImageSchema, field: "pinned", number: 8 },
    { schema: PullImageRequestSchema, field: "sandbox_config", number: 3 },
    { schema: AuthConfigSchema, field: "registry_token", number: 6 },
    { schema: StatusResponseSchema, field: "runtime_handlers", number: 3 },
    { schema: StatusResponseSchema, field: "features", number: 4 },
    { schema: LinuxRuntimeConfigurationSchema, field: "cgroup_driver", number: 1 },
  ];
  for (const { schema, field, number } of fieldNumbers) {
    test(`${schema.typeName}.${field} = ${number}`, () => {
      const found = schema.fields.find((f) => f.name === field);
      assert.ok(found, `${schema.typeName} has a field ${field}`);
      assert.equal(found.number, number);
    });
  }
});
