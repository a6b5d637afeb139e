import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { containerConfig, podConfig } from "../../../test/support/cri-requests.ts";
import { engineError } from "../../../test/support/fake-engine.ts";
import {
  type HandlerHarness,
  handlerServices,
  PAUSE_IMAGE,
} from "../../../test/support/handler-services.ts";
import { isErrorKind } from "../../errors.ts";
import {
  CreateContainerRequestSchema,
  ImageStatusRequestSchema,
  ListImagesRequestSchema,
  PullImageRequestSchema,
  RemoveImageRequestSchema,
  RunPodSandboxRequestSchema,
} from "../../gen/runtime/v1/api_pb.js";
import { runtimeServiceHandlers } from "../runtime/runtime-service.ts";
import { imageServiceHandlers } from "./image-service.ts";

let h: HandlerHarness;
let rpc: ReturnType<typeof imageServiceHandlers>;
const NGINX = `sha256:${"a".repeat(64)}`;

beforeEach(async () => {
  h = await handlerServices();
  rpc = imageServiceHandlers(h.services);
  h.engine.registry.set("docker.io/library/nginx:1.27", {
    Id: NGINX,
    RepoDigests: [`nginx@sha256:${"b".repeat(64)}`],
    Created: "2026-01-01T00:00:00Z",
    Size: 42,
    Config: { User: "101" },
  });
});
afterEach(() => h.close());

const pull = (image: string) =>
  rpc.pullImage(create(PullImageRequestSchema, { image: { image } }), h.ctx);
const imageStatus = (image: string, verbose = false) =>
  rpc.imageStatus(create(ImageStatusRequestSchema, { image: { image }, verbose }), h.ctx);
const removeImage = (image: string) =>
  rpc.removeImage(create(RemoveImageRequestSchema, { image: { image } }), h.ctx);
const list = (image?: string) =>
  rpc.listImages(
    create(ListImagesRequestSchema, image ? { filter: { image: { image } } } : {}),
    h.ctx,
  );

describe("PullImage", () => {
  test("answers the Docker image ID; the image is then present under its tag", async () => {
    assert.deepEqual(await pull("nginx:1.27"), { imageRef: NGINX });
    assert.deepEqual(h.engine.images.get(NGINX)?.RepoTags, ["nginx:1.27"]);
  });

  test("identical concurrent pulls are one engine pull", async () => {
    const answers = await Promise.all([pull("nginx:1.27"), pull("docker.io/library/nginx:1.27")]);
    assert.deepEqual(
      answers.map((answer) => answer.imageRef),
      [NGINX, NGINX],
    );
    assert.equal(h.engine.count("pullImage"), 1);
  });

  test("a registry error in the progress stream fails the pull with its message", async () => {
    await assert.rejects(pull("nginx:0.0"), /manifest for .*nginx:0\.0 not found/);
    assert.equal(h.engine.images.size, 1, "only the pause image");
  });

  test("INVALID_ARGUMENT for an empty image", async () => {
    await assert.rejects(pull(""), (err) => isErrorKind(err, "InvalidArgument"));
    assert.equal(h.engine.count("pullImage"), 0);
  });

  test("the engine refusing the pull (401) is UNAUTHENTICATED", async () => {
    h.engine.failNext("pullImage", engineError(401, "pull image: unauthorized"));
    await assert.rejects(pull("nginx:1.27"), (err) => isErrorKind(err, "Unauthenticated"));
  });
});

describe("ImageStatus", () => {
  test("an absent image answers empty, not an error", async () => {
    const answer = await imageStatus("nginx:1.27");
    assert.equal(answer.image, undefined);
  });

  test("a present image is described; the pause image is pinned", async () => {
    await pull("nginx:1.27");
    const answer = await imageStatus("nginx:1.27", true);
    assert.equal(answer.image?.id, NGINX);
    assert.deepEqual(answer.image?.repoTags, ["nginx:1.27"]);
    assert.equal(answer.image?.pinned, false);
    assert.equal(answer.image?.uid?.value, 101n);
    assert.equal((JSON.parse(answer.info?.info ?? "{}") as { id?: string }).id, NGINX);
    assert.equal((await imageStatus(PAUSE_IMAGE)).image?.pinned, true);
  });

  test("found by ID as well as by tag", async () => {
    await pull("nginx:1.27");
    assert.equal((await imageStatus(NGINX)).image?.id, NGINX);
  });
});

describe("ListImages", () => {
  test("every image; a bare repository lists its tags; a tag names one image", async () => {
    await pull("nginx:1.27");
    const all = (await list()).images?.map((image) => image.id) ?? [];
    assert.equal(all.length, 2);
    assert.ok(all.includes(NGINX));
    assert.ok(all.includes([...h.engine.images.keys()].find((id) => id !== NGINX) ?? ""));
    assert.deepEqual(
      (await list("nginx")).images?.map((image) => image.id),
      [NGINX],
    );
    assert.deepEqual(
      (await list("nginx:1.27")).images?.map((image) => image.id),
      [NGINX],
    );
    assert.deepEqual((await list("nginx:9")).images, []);
  });
});

describe("RemoveImage", () => {
  test("removes the image with every tag; removing it again succeeds", async () => {
    await pull("nginx:1.27");
    await removeImage("nginx:1.27");
    assert.equal(h.engine.images.has(NGINX), false);
    await removeImage("nginx:1.27");
    assert.equal(h.engine.count("removeImage"), 1, "an absent image is not asked for again");
  });

  test("an image gone between lookup and removal (404) is success", async () => {
    await pull("nginx:1.27");
    h.engine.failNext("removeImage", engineError(404, "remove image: No such image"));
    assert.deepEqual(await removeImage("nginx:1.27"), {});
  });

  test("an engine failure (500 once) is passed on; the retry removes it", async () => {
    await pull("nginx:1.27");
    h.engine.failNext("removeImage", engineError(500, "remove image: layer busy"));
    await assert.rejects(removeImage("nginx:1.27"), (err) => isErrorKind(err, "Internal"));
    assert.ok(h.engine.images.has(NGINX));
    await removeImage("nginx:1.27");
    assert.equal(h.engine.images.has(NGINX), false);
  });

  test("an image a container uses is refused, naming the container", async () => {
    await pull("nginx:1.27");
    const runtime = runtimeServiceHandlers(h.services);
    const { podSandboxId = "" } = await runtime.runPodSandbox(
      create(RunPodSandboxRequestSchema, { config: podConfig("web") }),
      h.ctx,
    );
    await runtime.createContainer(
      create(CreateContainerRequestSchema, {
        podSandboxId,
        config: containerConfig("app", "nginx:1.27"),
      }),
      h.ctx,
    );
    await assert.rejects(
      removeImage("nginx:1.27"),
      (err) =>
        isErrorKind(err, "FailedPrecondition") &&
        /in use by container k8s_app_web_default_uid-web_0/.test(String(err)),
    );
    assert.equal(h.engine.count("removeImage"), 0);
  });
});
