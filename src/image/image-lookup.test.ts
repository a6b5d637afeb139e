import assert from "node:assert/strict";
import { test } from "node:test";
import type { DockerEngine } from "../docker/engine.ts";
import type { ImageInspect } from "../docker/types.ts";
import { ImageLookup } from "./image-lookup.ts";

/** An engine that only answers image inspections, from a table the test edits. */
function engineWith(images: Map<string, Partial<ImageInspect>>) {
  let asked = 0;
  const engine = {
    findImage: async (id: string) => {
      asked++;
      return images.get(id) as ImageInspect | undefined;
    },
  } as unknown as DockerEngine;
  return { engine, asked: () => asked };
}

test("refreshed image names keep their identity while unchanged, and change when the tags do", async (t) => {
  t.mock.timers.enable({ apis: ["Date"], now: 1_000_000 });
  const images = new Map([
    ["sha256:1", { RepoTags: ["busybox:1"], RepoDigests: ["busybox@sha256:a"] }],
  ]);
  const { engine, asked } = engineWith(images);
  const lookup = new ImageLookup(engine, []);
  const first = await lookup.namesById("sha256:1");
  assert.deepEqual(first, { repoTags: ["busybox:1"], repoDigests: ["busybox@sha256:a"] });
  assert.equal(await lookup.namesById("sha256:1"), first);
  assert.equal(asked(), 1, "cached within its lifetime");

  t.mock.timers.tick(60_000);
  assert.equal(lookup.cachedNames("sha256:1"), undefined, "expired");
  assert.equal(await lookup.namesById("sha256:1"), first, "asked again, same names: same object");
  assert.equal(asked(), 2);

  t.mock.timers.tick(60_000);
  images.set("sha256:1", { RepoTags: ["busybox:1", "busybox:latest"], RepoDigests: [] });
  const retagged = await lookup.namesById("sha256:1");
  assert.notEqual(retagged, first);
  assert.deepEqual(retagged, { repoTags: ["busybox:1", "busybox:latest"], repoDigests: [] });
});
