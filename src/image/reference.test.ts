import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BerthError } from "../errors.ts";
import {
  type ImageRef,
  normalizeImageRef,
  parseImageRef,
  pullArguments,
  repositoryOf,
  tryNormalize,
} from "./reference.ts";

const HEX = "0123456789abcdef".repeat(4);
const DIGEST = `sha256:${"b".repeat(64)}`;

function named(
  domain: string,
  path: string,
  tag: string | undefined,
  digest: string | undefined,
): ImageRef {
  return { kind: "named", domain, path, tag, digest };
}

function isInvalidArgument(err: unknown): boolean {
  return err instanceof BerthError && err.kind === "InvalidArgument";
}

describe("parseImageRef", () => {
  const valid: Array<{ name: string; input: string; want: ImageRef }> = [
    {
      name: "ID with sha256: prefix",
      input: `sha256:${HEX}`,
      want: { kind: "id", id: `sha256:${HEX}` },
    },
    { name: "bare 64-hex ID", input: HEX, want: { kind: "id", id: `sha256:${HEX}` } },
    {
      name: "short name",
      input: "busybox",
      want: named("docker.io", "library/busybox", undefined, undefined),
    },
    {
      name: "short name with tag",
      input: "busybox:1.36",
      want: named("docker.io", "library/busybox", "1.36", undefined),
    },
    {
      name: "user repository on Docker Hub",
      input: "bitnami/redis",
      want: named("docker.io", "bitnami/redis", undefined, undefined),
    },
    {
      name: "explicit docker.io",
      input: "docker.io/busybox",
      want: named("docker.io", "library/busybox", undefined, undefined),
    },
    {
      name: "index.docker.io alias",
      input: "index.docker.io/busybox:1",
      want: named("docker.io", "library/busybox", "1", undefined),
    },
    {
      name: "registry with dots",
      input: "registry.k8s.io/pause:3.10",
      want: named("registry.k8s.io", "pause", "3.10", undefined),
    },
    {
      name: "registry with port",
      input: "myreg.example.com:5000/team/app:v1.2.3",
      want: named("myreg.example.com:5000", "team/app", "v1.2.3", undefined),
    },
    {
      name: "localhost",
      input: "localhost/app",
      want: named("localhost", "app", undefined, undefined),
    },
    {
      name: "localhost with port and tag",
      input: "localhost:5000/app:dev",
      want: named("localhost:5000", "app", "dev", undefined),
    },
    {
      name: "port-like tag without a slash is a tag",
      input: "localhost:5000",
      want: named("docker.io", "library/localhost", "5000", undefined),
    },
    {
      name: "digest",
      input: `busybox@${DIGEST}`,
      want: named("docker.io", "library/busybox", undefined, DIGEST),
    },
    {
      name: "tag and digest",
      input: `ubuntu:22.04@${DIGEST}`,
      want: named("docker.io", "library/ubuntu", "22.04", DIGEST),
    },
    {
      name: "registry with port and digest",
      input: `localhost:5000/app@${DIGEST}`,
      want: named("localhost:5000", "app", undefined, DIGEST),
    },
    {
      name: "separators in components",
      input: "quay.io/a_b/c__d/e--f.g:t_1-2.3",
      want: named("quay.io", "a_b/c__d/e--f.g", "t_1-2.3", undefined),
    },
    {
      name: "three path components without a domain",
      input: "a/b/c",
      want: named("docker.io", "a/b/c", undefined, undefined),
    },
    {
      name: "surrounding whitespace trimmed",
      input: "  busybox:1  ",
      want: named("docker.io", "library/busybox", "1", undefined),
    },
    {
      name: "name of exactly 255 characters",
      input: `${"a".repeat(255)}:t`,
      want: named("docker.io", `library/${"a".repeat(255)}`, "t", undefined),
    },
    {
      name: "tag of 128 characters",
      input: `busybox:${"t".repeat(128)}`,
      want: named("docker.io", "library/busybox", "t".repeat(128), undefined),
    },
  ];
  for (const { name, input, want } of valid) {
    test(`parses ${name}: ${JSON.stringify(input.slice(0, 60))}`, () => {
      assert.deepEqual(parseImageRef(input), want);
    });
  }

  const invalid: Array<{ name: string; input: string }> = [
    { name: "empty", input: "" },
    { name: "whitespace only", input: "   " },
    { name: "uppercase repository", input: "BusyBox" },
    { name: "uppercase repository after a registry", input: "registry.k8s.io/Pause:3.10" },
    { name: "empty path component", input: "Bad//Ref" },
    { name: "trailing slash", input: "busybox/" },
    { name: "leading separator", input: "-busybox" },
    { name: "name longer than 255 characters", input: "a".repeat(256) },
    { name: "long name with registry", input: `example.com/${"a".repeat(250)}` },
    { name: "empty tag", input: "busybox:" },
    { name: "tag starting with a dot", input: "busybox:.1" },
    { name: "tag of 129 characters", input: `busybox:${"t".repeat(129)}` },
    { name: "tag with invalid character", input: "busybox:a+b" },
    { name: "empty digest", input: "busybox@" },
    { name: "digest without algorithm", input: `busybox@${"b".repeat(64)}` },
    { name: "digest with too short hex", input: "busybox@sha256:abc" },
    { name: "digest only", input: `@${DIGEST}` },
    { name: "non-numeric registry port", input: "example.com:abc/foo" },
    { name: "uppercase 64-hex text (neither an ID nor a repository)", input: HEX.toUpperCase() },
  ];
  for (const { name, input } of invalid) {
    test(`refuses ${name} with InvalidArgument`, () => {
      assert.throws(() => parseImageRef(input), isInvalidArgument);
    });
  }

  test("the error message names the input", () => {
    assert.throws(() => parseImageRef("Bad//Ref"), /"Bad\/\/Ref"/);
  });

  test("parses an IPv6 registry literal", () => {
    assert.deepEqual(parseImageRef("[::1]:5000/foo:1"), named("[::1]:5000", "foo", "1", undefined));
  });
});

test("refuses a sha256 digest whose hex is not 64 lowercase characters", () => {
  assert.throws(() => parseImageRef(`busybox@sha256:${"a".repeat(32)}`), isInvalidArgument);
  assert.throws(() => parseImageRef(`busybox@sha256:${"A".repeat(64)}`), isInvalidArgument);
});

describe("repositoryOf", () => {
  test("joins domain and path", () => {
    assert.equal(
      repositoryOf({
        kind: "named",
        domain: "docker.io",
        path: "library/busybox",
        tag: undefined,
        digest: undefined,
      }),
      "docker.io/library/busybox",
    );
  });
});

describe("normalizeImageRef", () => {
  const cases: Array<{ input: string; want: string }> = [
    { input: "busybox", want: "docker.io/library/busybox:latest" },
    { input: "busybox:1.36", want: "docker.io/library/busybox:1.36" },
    { input: "docker.io/library/busybox:latest", want: "docker.io/library/busybox:latest" },
    { input: "registry.k8s.io/pause:3.10", want: "registry.k8s.io/pause:3.10" },
    { input: `busybox@${DIGEST}`, want: `docker.io/library/busybox@${DIGEST}` },
    { input: `ubuntu:22.04@${DIGEST}`, want: `docker.io/library/ubuntu:22.04@${DIGEST}` },
    { input: HEX, want: `sha256:${HEX}` },
    { input: `sha256:${HEX}`, want: `sha256:${HEX}` },
  ];
  for (const { input, want } of cases) {
    test(`${input.slice(0, 40)} → ${want.slice(0, 48)}`, () => {
      assert.equal(normalizeImageRef(parseImageRef(input)), want);
    });
  }
});

describe("tryNormalize", () => {
  test("normalises a valid reference", () => {
    assert.equal(tryNormalize("busybox"), "docker.io/library/busybox:latest");
  });
  for (const input of ["", "Bad//Ref", "<none>:<none>", "<none>@<none>", "BusyBox"]) {
    test(`answers undefined for ${JSON.stringify(input)}`, () => {
      assert.equal(tryNormalize(input), undefined);
    });
  }
});

describe("pullArguments", () => {
  const cases: Array<{ input: string; want: { fromImage: string; tag: string } }> = [
    { input: "busybox", want: { fromImage: "docker.io/library/busybox", tag: "latest" } },
    { input: "busybox:1.36", want: { fromImage: "docker.io/library/busybox", tag: "1.36" } },
    { input: `busybox@${DIGEST}`, want: { fromImage: "docker.io/library/busybox", tag: DIGEST } },
    {
      input: `ubuntu:22.04@${DIGEST}`,
      want: { fromImage: "docker.io/library/ubuntu", tag: DIGEST },
    },
    { input: "localhost:5000/app:dev", want: { fromImage: "localhost:5000/app", tag: "dev" } },
  ];
  for (const { input, want } of cases) {
    test(`${input.slice(0, 40)} → ${want.fromImage} ${want.tag.slice(0, 16)}`, () => {
      assert.deepEqual(pullArguments(parseImageRef(input)), want);
    });
  }

  test("refuses an image ID with InvalidArgument", () => {
    assert.throws(
      () => pullArguments(parseImageRef(HEX)),
      (err: unknown) => {
        assert.ok(isInvalidArgument(err));
        assert.match((err as Error).message, new RegExp(`sha256:${HEX}`));
        return true;
      },
    );
  });
});
