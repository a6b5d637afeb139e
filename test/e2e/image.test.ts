import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { DockerError } from "../../src/docker/errors.ts";
import { jsonLines } from "../../src/util/json-lines.ts";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { testDocker } from "../support/docker.ts";
import { loadFixtures } from "../support/fixtures.ts";
import { expectCode } from "../support/grpc.ts";

const fx = loadFixtures();
const docker = testDocker();
const plainRef = `${fx.plainRegistry}/${fx.images.pullable}`;
const authRef = `${fx.authRegistry}/${fx.images.pullable}`;
const plainRepo = plainRef.slice(0, plainRef.lastIndexOf(":"));
const authRepo = authRef.slice(0, authRef.lastIndexOf(":"));
let berth: BerthProcess;

/** Takes every copy of the pullable image off the engine, so each test must really pull. */
async function removePullable(): Promise<void> {
  for (const ref of [plainRef, authRef]) {
    const image = await docker.findImage(ref);
    if (image) await docker.removeImage(image.Id, true);
  }
}

/** Docker's own record of pulls of a reference since a moment, from the engine's events. */
async function pullEvents(ref: string, since: number): Promise<number> {
  const events = await docker.events({
    // Seconds with a fraction: whole seconds would count an earlier test's pull too.
    since: since / 1000,
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { type: ["image"], event: ["pull"] },
  });
  let count = 0;
  for await (const event of jsonLines<{ id?: string }>(events)) {
    if (event.id === ref) count++;
  }
  return count;
}

before(async () => {
  berth = await startBerth({
    args: ["--pod-infra-container-image", fx.pauseImage, "--log-level", "trace"],
  });
});
after(async () => {
  await removePullable();
  await berth.stop();
  await docker.close();
});

describe("PullImage", () => {
  beforeEach(removePullable);

  test("pulls by tag without credentials and answers the image ID as image_ref", async () => {
    const { imageRef } = await berth.client.image.pullImage({ image: { image: plainRef } });
    const image = (await berth.client.image.imageStatus({ image: { image: plainRef } })).image;
    assert.ok(image, "the pulled image is there");
    assert.match(imageRef, /^sha256:[0-9a-f]{64}$/);
    assert.equal(imageRef, image.id);
    assert.equal(imageRef, (await docker.inspectImage(plainRef)).Id);
    assert.ok(image.repoTags.includes(plainRef));
  });

  test("pulls by digest; image_ref is still the image ID", async () => {
    const byDigest = `${plainRepo}@${fx.digests.plain}`;
    const { imageRef } = await berth.client.image.pullImage({ image: { image: byDigest } });
    const image = (await berth.client.image.imageStatus({ image: { image: byDigest } })).image;
    assert.equal(imageRef, image?.id);
    assert.ok(image?.repoDigests.includes(byDigest), `repo digests: ${image?.repoDigests}`);
  });

  test("the authenticated registry refuses a pull without or with wrong credentials", async () => {
    await assert.rejects(berth.client.image.pullImage({ image: { image: authRef } }));
    // The engine's HTTP status decides the code: Docker 28 refuses with 401 (UNAUTHENTICATED),
    // Docker 20.10 with 500 (INTERNAL).
    const engineStatus = await docker
      .pullImage(
        authRef.slice(0, authRef.lastIndexOf(":")),
        authRef.slice(authRef.lastIndexOf(":") + 1),
        { username: fx.username, password: "wrong" },
        AbortSignal.timeout(30_000),
      )
      .then(
        (body) => {
          body.destroy();
          return 200;
        },
        (err: unknown) => (err instanceof DockerError ? err.statusCode : undefined),
      );
    const details = await expectCode(
      berth.client.image.pullImage({
        image: { image: authRef },
        auth: { username: fx.username, password: "wrong" },
      }),
      engineStatus === 401 ? status.UNAUTHENTICATED : status.INTERNAL,
    );
    assert.match(details, /unauthorized|authentication/i);
    assert.equal(await docker.findImage(authRef), undefined);
  });

  test("pulls from the authenticated registry with username and password", async () => {
    const { imageRef } = await berth.client.image.pullImage({
      image: { image: authRef },
      auth: { username: fx.username, password: fx.password, serverAddress: fx.authRegistry },
    });
    assert.equal(imageRef, (await docker.inspectImage(authRef)).Id);
  });

  test("pulls from the authenticated registry with a base64 auth field", async () => {
    const auth = Buffer.from(`${fx.username}:${fx.password}`).toString("base64");
    const byDigest = `${authRepo}@${fx.digests.auth}`;
    const { imageRef } = await berth.client.image.pullImage({
      image: { image: byDigest },
      auth: { auth },
    });
    assert.equal(imageRef, (await docker.inspectImage(byDigest)).Id);
  });

  test("never logs the credentials", async () => {
    await berth.client.image.pullImage({
      image: { image: authRef },
      auth: { username: fx.username, password: fx.password },
    });
    assert.match(berth.output(), /pulled image/);
    assert.doesNotMatch(berth.output(), new RegExp(fx.password));
    assert.doesNotMatch(
      berth.output(),
      new RegExp(Buffer.from(`${fx.username}:${fx.password}`).toString("base64")),
    );
  });

  test("concurrent pulls of the same image share one Docker pull", async () => {
    const since = Date.now();
    const pulls = await Promise.all(
      Array.from({ length: 4 }, () => berth.client.image.pullImage({ image: { image: plainRef } })),
    );
    assert.equal(new Set(pulls.map((p) => p.imageRef)).size, 1);
    assert.equal(await pullEvents(plainRef, since), 1, "the engine saw one pull");
  });

  test("malformed references and empty specs are INVALID_ARGUMENT", async () => {
    await expectCode(
      berth.client.image.pullImage({ image: { image: "UPPER/Case:tag" } }),
      status.INVALID_ARGUMENT,
      /invalid image reference/,
    );
    await expectCode(
      berth.client.image.pullImage({ image: { image: "busybox:bad tag" } }),
      status.INVALID_ARGUMENT,
    );
    await expectCode(berth.client.image.pullImage({}), status.INVALID_ARGUMENT, /image\.image/);
    await expectCode(berth.client.image.imageStatus({}), status.INVALID_ARGUMENT);
    await expectCode(berth.client.image.removeImage({}), status.INVALID_ARGUMENT);
  });

  test("a pull of an image the registry does not have fails NOT_FOUND or with the reason", async () => {
    await assert.rejects(
      berth.client.image.pullImage({ image: { image: `${fx.plainRegistry}/berth-test/absent:1` } }),
      (err: { details: string }) => /absent/.test(err.details),
    );
  });
});

describe("ImageStatus and ListImages", () => {
  test("reports id, tags, size, spec and the image's user as uid or username", async () => {
    const plain = (await berth.client.image.imageStatus({ image: { image: fx.images.busybox } }))
      .image;
    const byUid = (await berth.client.image.imageStatus({ image: { image: fx.images.busyboxUid } }))
      .image;
    const byName = (
      await berth.client.image.imageStatus({ image: { image: fx.images.busyboxUser } })
    ).image;
    const inspected = await docker.inspectImage(fx.images.busybox);
    assert.equal(plain?.id, inspected.Id);
    assert.ok(plain?.repoTags.includes(fx.images.busybox));
    assert.deepEqual(plain?.repoTags, inspected.RepoTags);
    assert.equal(plain?.size, BigInt(inspected.Size));
    assert.equal(plain?.spec?.image, inspected.Id);
    assert.equal(plain?.uid, undefined);
    assert.equal(plain?.username, "");
    assert.equal(byUid?.uid?.value, 1234n);
    assert.equal(byUid?.username, "");
    assert.equal(byName?.uid, undefined);
    assert.equal(byName?.username, "berthuser");
    assert.equal(plain?.pinned, false);
  });

  test("finds an image by ID, short ID form and fully qualified name", async () => {
    const id = (await docker.inspectImage(fx.images.busybox)).Id;
    for (const ref of [id, id.slice("sha256:".length), `docker.io/${fx.images.busybox}`]) {
      const found = (await berth.client.image.imageStatus({ image: { image: ref } })).image;
      assert.equal(found?.id, id, ref);
    }
  });

  test("an absent image is an empty answer, not an error", async () => {
    const response = await berth.client.image.imageStatus({
      image: { image: "berth-test/never-there:1" },
      verbose: true,
    });
    assert.equal(response.image, undefined);
  });

  test("verbose adds the image config as JSON", async () => {
    const response = await berth.client.image.imageStatus({
      image: { image: fx.images.busyboxUid },
      verbose: true,
    });
    assert.equal(JSON.parse(response.info.info ?? "{}").config.User, "1234");
  });

  test("the pause image is pinned so the kubelet's image GC keeps it", async () => {
    const pause = (await berth.client.image.imageStatus({ image: { image: fx.pauseImage } })).image;
    assert.equal(pause?.pinned, true);
    const listed = (await berth.client.image.listImages({})).images.find(
      (image) => image.id === pause?.id,
    );
    assert.equal(listed?.pinned, true);
  });

  test("ListImages lists the engine's images with their users, and filters by image", async () => {
    const all = (await berth.client.image.listImages({})).images;
    const engine = await docker.listImages();
    assert.deepEqual(new Set(all.map((i) => i.id)), new Set(engine.map((i) => i.Id)));
    const uid = all.find((image) => image.repoTags.includes(fx.images.busyboxUid));
    assert.equal(uid?.uid?.value, 1234n);
    assert.equal(
      all.find((image) => image.repoTags.includes(fx.images.busyboxUser))?.username,
      "berthuser",
    );

    const filtered = await berth.client.image.listImages({
      filter: { image: { image: fx.images.busyboxUser } },
    });
    assert.deepEqual(
      filtered.images.map((image) => image.repoTags),
      [[fx.images.busyboxUser]],
    );
    const byRepository = await berth.client.image.listImages({
      filter: { image: { image: "berth-test/busybox-user" } },
    });
    assert.deepEqual(
      byRepository.images.map((image) => image.repoTags.includes(fx.images.busyboxUser)),
      [true],
      "a bare repository lists its tags",
    );
    const none = await berth.client.image.listImages({
      filter: { image: { image: "berth-test/never-there:1" } },
    });
    assert.deepEqual(none.images, []);
  });

  test("StreamImages streams the same images", async () => {
    const streamed: string[] = [];
    for await (const page of berth.client.image.streamImages({})) {
      streamed.push(...page.images.map((image) => image.id));
    }
    const listed = (await berth.client.image.listImages({})).images.map((image) => image.id);
    assert.deepEqual(streamed.sort(), listed.sort());
  });
});

describe("RemoveImage", () => {
  beforeEach(removePullable);

  test("removes the image with all its tags and digests, given one tag", async () => {
    await berth.client.image.pullImage({ image: { image: plainRef } });
    const { imageRef } = await berth.client.image.pullImage({
      image: { image: authRef },
      auth: { username: fx.username, password: fx.password },
    });
    const before = await docker.inspectImage(imageRef);
    assert.ok((before.RepoTags ?? []).length >= 2, "two tags on one image");

    await berth.client.image.removeImage({ image: { image: plainRef } });
    assert.equal(await docker.findImage(imageRef), undefined, "the image itself is gone");
    assert.equal(
      (await berth.client.image.imageStatus({ image: { image: authRef } })).image,
      undefined,
    );
  });

  test("removes by ID and by digest", async () => {
    const first = await berth.client.image.pullImage({ image: { image: plainRef } });
    await berth.client.image.removeImage({ image: { image: first.imageRef } });
    assert.equal(await docker.findImage(first.imageRef), undefined);

    const byDigest = `${plainRepo}@${fx.digests.plain}`;
    const second = await berth.client.image.pullImage({ image: { image: byDigest } });
    await berth.client.image.removeImage({ image: { image: byDigest } });
    assert.equal(await docker.findImage(second.imageRef), undefined);
  });

  test("is idempotent: removing an absent image succeeds", async () => {
    await berth.client.image.removeImage({ image: { image: plainRef } });
    await berth.client.image.removeImage({ image: { image: "berth-test/never-there:1" } });
  });

  test("refuses, clearly, to remove an image a container uses", async () => {
    const { imageRef } = await berth.client.image.pullImage({ image: { image: plainRef } });
    const created = await docker.createContainer(`berth-test-image-user-${process.pid}`, {
      Image: imageRef,
      Cmd: ["true"],
    });
    try {
      await expectCode(
        berth.client.image.removeImage({ image: { image: plainRef } }),
        status.FAILED_PRECONDITION,
        /in use by container berth-test-image-user/,
      );
      assert.ok(await docker.findImage(imageRef), "the image is still there");
    } finally {
      await docker.removeContainer(created.Id);
    }
  });
});

describe("ImageFsInfo", () => {
  test("reports the filesystem of the engine's data root, in nanoseconds", async () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const response = await berth.client.image.imageFsInfo({});
    const usage = response.imageFilesystems[0];
    assert.ok(usage, "one image filesystem");
    assert.equal(usage.fsId?.mountpoint, (await docker.info()).DockerRootDir);
    assert.ok((usage.usedBytes?.value ?? 0n) > 0n);
    assert.ok((usage.inodesUsed?.value ?? 0n) > 0n);
    assert.ok(usage.timestamp >= before && usage.timestamp < before + 60_000_000_000n);
    assert.equal(response.containerFilesystems[0]?.fsId?.mountpoint, usage.fsId?.mountpoint);
  });
});
