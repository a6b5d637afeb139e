import assert from "node:assert/strict";
import { test } from "node:test";
import { LayerDownloads } from "./layer-downloads.ts";

test("downloaded bytes: the last count per layer, its size once complete; cached layers none", () => {
  const downloads = new LayerDownloads();
  const messages = [
    { status: "Pulling from library/busybox", id: "1.36" },
    { status: "Already exists", id: "aaa" },
    { status: "Pulling fs layer", id: "bbb" },
    { status: "Pulling fs layer", id: "ccc" },
    { status: "Downloading", id: "bbb", progressDetail: { current: 100, total: 1000 } },
    { status: "Downloading", id: "ccc", progressDetail: { current: 50, total: 60 } },
    { status: "Downloading", id: "bbb", progressDetail: { current: 990, total: 1000 } },
    { status: "Download complete", id: "bbb" },
    { status: "Extracting", id: "bbb", progressDetail: { current: 5000, total: 9000 } },
    { status: "Pull complete", id: "bbb" },
    { status: "Digest: sha256:0123" },
  ];
  for (const message of messages) downloads.update(message);
  // ccc stopped at 50 (a failed or cancelled pull); bbb completed at its 1000.
  assert.equal(downloads.bytes(), 1050);
});

test("a pull of an image the engine has counts nothing", () => {
  const downloads = new LayerDownloads();
  downloads.update({ status: "Already exists", id: "aaa" });
  downloads.update({ status: "Status: Image is up to date for busybox:1.36" });
  assert.equal(downloads.bytes(), 0);
});
