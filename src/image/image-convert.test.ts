import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { imageUser, toCriImage } from "./image-convert.ts";
import { normalizeImageRef, parseImageRef } from "./reference.ts";

const ID = `sha256:${"c".repeat(64)}`;
const DIGEST = `sha256:${"d".repeat(64)}`;
const PAUSE = normalizeImageRef(parseImageRef("registry.k8s.io/pause:3.10"));

type DockerImage = Parameters<typeof toCriImage>[0];

function image(overrides: Partial<DockerImage> = {}): DockerImage {
  return { Id: ID, RepoTags: [], RepoDigests: [], Size: 0, User: undefined, ...overrides };
}

describe("imageUser", () => {
  const cases: Array<{ user: string | undefined; want: ReturnType<typeof imageUser> }> = [
    { user: undefined, want: { username: "" } },
    { user: "", want: { username: "" } },
    { user: "1234", want: { uid: { value: 1234n }, username: "" } },
    { user: "1234:5", want: { uid: { value: 1234n }, username: "" } },
    { user: "0", want: { uid: { value: 0n }, username: "" } },
    { user: "berthuser", want: { username: "berthuser" } },
    { user: "berthuser:grp", want: { username: "berthuser" } },
    { user: "berthuser:1000", want: { username: "berthuser" } },
  ];
  for (const { user, want } of cases) {
    test(`${JSON.stringify(user)} → ${JSON.stringify(want, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))}`, () => {
      assert.deepEqual(imageUser(user), want);
    });
  }
});

describe("toCriImage", () => {
  test("copies id, tags, digests; size as bigint; spec.image is the ID", () => {
    const tags = ["docker.io/library/busybox:latest", "busybox:1.36"];
    const digests = [`busybox@${DIGEST}`];
    const cri = toCriImage(
      image({ RepoTags: tags, RepoDigests: digests, Size: 4_261_550, User: "1000:1000" }),
      new Set(),
    );
    assert.deepEqual(cri, {
      id: ID,
      repoTags: tags,
      repoDigests: digests,
      size: 4_261_550n,
      uid: { value: 1000n },
      username: "",
      spec: { image: ID },
      pinned: false,
    });
  });

  const sizes: Array<{ size: number; want: bigint }> = [
    { size: 0, want: 0n },
    { size: 2 ** 40, want: 2n ** 40n },
    { size: 12.9, want: 12n },
    { size: -5, want: 0n },
  ];
  for (const { size, want } of sizes) {
    test(`size ${size} → ${want}n`, () => {
      assert.equal(toCriImage(image({ Size: size }), new Set()).size, want);
    });
  }

  test("drops the <none>:<none> and <none>@<none> placeholders", () => {
    const cri = toCriImage(
      image({
        RepoTags: ["<none>:<none>", "busybox:latest"],
        RepoDigests: ["<none>@<none>", `busybox@${DIGEST}`],
      }),
      new Set(),
    );
    assert.deepEqual(cri.repoTags, ["busybox:latest"]);
    assert.deepEqual(cri.repoDigests, [`busybox@${DIGEST}`]);
  });

  test("null RepoTags and RepoDigests become empty lists", () => {
    const cri = toCriImage(image({ RepoTags: null, RepoDigests: null }), new Set());
    assert.deepEqual(cri.repoTags, []);
    assert.deepEqual(cri.repoDigests, []);
  });

  test("a named user is reported as username", () => {
    const cri = toCriImage(image({ User: "berthuser:grp" }), new Set());
    assert.equal(cri.username, "berthuser");
    assert.equal(cri.uid, undefined);
  });

  const pinning: Array<{
    name: string;
    tags: string[];
    digests: string[];
    pinned: string[];
    want: boolean;
  }> = [
    {
      name: "pinned by an identical fully qualified tag",
      tags: ["registry.k8s.io/pause:3.10"],
      digests: [],
      pinned: [PAUSE],
      want: true,
    },
    {
      name: "pinned by a short tag normalising to the pinned ref",
      tags: ["busybox:latest"],
      digests: [],
      pinned: ["docker.io/library/busybox:latest"],
      want: true,
    },
    {
      name: "pinned by a tagless short name (latest implied)",
      tags: ["busybox"],
      digests: [],
      pinned: ["docker.io/library/busybox:latest"],
      want: true,
    },
    {
      name: "pinned by a digest",
      tags: [],
      digests: [`registry.k8s.io/pause@${DIGEST}`],
      pinned: [`registry.k8s.io/pause@${DIGEST}`],
      want: true,
    },
    {
      name: "pinned by its ID",
      tags: [],
      digests: [],
      pinned: [ID],
      want: true,
    },
    {
      name: "not pinned: other tag of the same repository",
      tags: ["registry.k8s.io/pause:3.9"],
      digests: [],
      pinned: [PAUSE],
      want: false,
    },
    {
      name: "not pinned: same tag on another registry",
      tags: ["docker.io/library/pause:3.10"],
      digests: [],
      pinned: [PAUSE],
      want: false,
    },
    {
      name: "not pinned: empty pinned set",
      tags: ["registry.k8s.io/pause:3.10"],
      digests: [],
      pinned: [],
      want: false,
    },
    {
      name: "not pinned: the <none> placeholders never match",
      tags: ["<none>:<none>"],
      digests: ["<none>@<none>"],
      pinned: ["<none>:<none>", "<none>@<none>"],
      want: false,
    },
  ];
  for (const { name, tags, digests, pinned, want } of pinning) {
    test(name, () => {
      const cri = toCriImage(image({ RepoTags: tags, RepoDigests: digests }), new Set(pinned));
      assert.equal(cri.pinned, want);
    });
  }
});
