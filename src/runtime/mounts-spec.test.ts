import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { assertInvalid } from "../../test/support/spec-fixtures.ts";
import {
  CDIDeviceSchema,
  DeviceSchema,
  MountPropagation,
  MountSchema,
} from "../gen/runtime/v1/api_pb.js";
import { buildDevices, buildMounts, cdiDeviceRequests, type MountContext } from "./mounts-spec.ts";

const API41: MountContext = {
  limits: { apiVersion: "1.41", recursiveReadOnly: false },
  selinuxLevel: "",
  readonlyRootfs: false,
};
const API42: MountContext = { ...API41, limits: { apiVersion: "1.42", recursiveReadOnly: false } };
const API44: MountContext = { ...API41, limits: { apiVersion: "1.44", recursiveReadOnly: true } };
const API48: MountContext = { ...API41, limits: { apiVersion: "1.48", recursiveReadOnly: true } };

function mount(init: MessageInitShape<typeof MountSchema>) {
  return create(MountSchema, init);
}

describe("buildMounts", () => {
  const cases: Array<{
    name: string;
    mounts: ReturnType<typeof mount>[];
    ctx: MountContext;
    want: Omit<ReturnType<typeof buildMounts>, "warnings">;
  }> = [
    {
      name: "a plain bind is a Binds entry (Docker creates a missing source as a directory)",
      mounts: [mount({ hostPath: "/var/lib/kubelet/pods/u/volumes/v", containerPath: "/data" })],
      ctx: API41,
      want: { Binds: ["/var/lib/kubelet/pods/u/volumes/v:/data"], Mounts: [] },
    },
    {
      name: "read-only below API 1.44: Binds ro (non-recursive there)",
      mounts: [mount({ hostPath: "/h", containerPath: "/c", readonly: true })],
      ctx: API41,
      want: { Binds: ["/h:/c:ro"], Mounts: [] },
    },
    {
      name: "HOST_TO_CONTAINER is rslave",
      mounts: [
        mount({
          hostPath: "/h",
          containerPath: "/c",
          propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
        }),
      ],
      ctx: API41,
      want: { Binds: ["/h:/c:rslave"], Mounts: [] },
    },
    {
      name: "BIDIRECTIONAL is rshared",
      mounts: [
        mount({
          hostPath: "/h",
          containerPath: "/c",
          propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL,
        }),
      ],
      ctx: API41,
      want: { Binds: ["/h:/c:rshared"], Mounts: [] },
    },
    {
      name: "PRIVATE leaves Docker's default",
      mounts: [
        mount({
          hostPath: "/h",
          containerPath: "/c",
          propagation: MountPropagation.PROPAGATION_PRIVATE,
        }),
      ],
      ctx: API41,
      want: { Binds: ["/h:/c"], Mounts: [] },
    },
    {
      name: "selinux_relabel with the pod's level is Z",
      mounts: [
        mount({ hostPath: "/h", containerPath: "/c", readonly: true, selinuxRelabel: true }),
      ],
      ctx: { ...API41, selinuxLevel: "s0:c1,c2" },
      want: { Binds: ["/h:/c:ro,Z"], Mounts: [] },
    },
    {
      name: "selinux_relabel without a level is not done (random MCS labels would lock others out)",
      mounts: [mount({ hostPath: "/h", containerPath: "/c", selinuxRelabel: true })],
      ctx: API41,
      want: { Binds: ["/h:/c"], Mounts: [] },
    },
    {
      name: "read-only from API 1.44 is a Mounts entry made explicitly non-recursive",
      mounts: [mount({ hostPath: "/h", containerPath: "/c", readonly: true })],
      ctx: API44,
      want: {
        Binds: [],
        Mounts: [
          {
            Type: "bind",
            Source: "/h",
            Target: "/c",
            ReadOnly: true,
            BindOptions: { CreateMountpoint: true, ReadOnlyNonRecursive: true },
          },
        ],
      },
    },
    {
      name: "recursive_read_only is forced recursive",
      mounts: [
        mount({ hostPath: "/h", containerPath: "/c", readonly: true, recursiveReadOnly: true }),
      ],
      ctx: API44,
      want: {
        Binds: [],
        Mounts: [
          {
            Type: "bind",
            Source: "/h",
            Target: "/c",
            ReadOnly: true,
            BindOptions: { CreateMountpoint: true, ReadOnlyForceRecursive: true },
          },
        ],
      },
    },
    {
      name: "read-write from API 1.44 stays in Binds",
      mounts: [mount({ hostPath: "/h", containerPath: "/c" })],
      ctx: API44,
      want: { Binds: ["/h:/c"], Mounts: [] },
    },
    {
      name: "read-only with propagation from API 1.44 carries it in BindOptions",
      mounts: [
        mount({
          hostPath: "/h",
          containerPath: "/c",
          readonly: true,
          propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
        }),
      ],
      ctx: API44,
      want: {
        Binds: [],
        Mounts: [
          {
            Type: "bind",
            Source: "/h",
            Target: "/c",
            ReadOnly: true,
            BindOptions: {
              Propagation: "rslave",
              CreateMountpoint: true,
              ReadOnlyNonRecursive: true,
            },
          },
        ],
      },
    },
    {
      name: "a path with ':' goes to Mounts (no CreateMountpoint before API 1.42)",
      mounts: [mount({ hostPath: "/h:1", containerPath: "/c" })],
      ctx: API41,
      want: { Binds: [], Mounts: [{ Type: "bind", Source: "/h:1", Target: "/c" }] },
    },
    {
      name: "a path with ':' from API 1.42 creates its mount point",
      mounts: [mount({ hostPath: "/h:1", containerPath: "/c", readonly: true })],
      ctx: API42,
      want: {
        Binds: [],
        Mounts: [
          {
            Type: "bind",
            Source: "/h:1",
            Target: "/c",
            ReadOnly: true,
            BindOptions: { CreateMountpoint: true },
          },
        ],
      },
    },
    {
      name: "trailing slashes on the target are dropped",
      mounts: [mount({ hostPath: "/h", containerPath: "/c/" })],
      ctx: API41,
      want: { Binds: ["/h:/c"], Mounts: [] },
    },
    {
      name: "an image volume from API 1.48, read-only, with its sub path",
      mounts: [
        mount({
          containerPath: "/models",
          image: { image: "sha256:abc" },
          imageSubPath: "weights",
        }),
      ],
      ctx: API48,
      want: {
        Binds: [],
        Mounts: [
          {
            Type: "image",
            Source: "sha256:abc",
            Target: "/models",
            ReadOnly: true,
            ImageOptions: { Subpath: "weights" },
          },
        ],
      },
    },
  ];
  for (const { name, mounts, ctx, want } of cases) {
    test(name, () => {
      const { Binds, Mounts } = buildMounts(mounts, ctx);
      assert.deepEqual({ Binds, Mounts }, want);
    });
  }

  test("read-only + relabel from API 1.44 stays in Binds, with a warning", () => {
    const got = buildMounts(
      [mount({ hostPath: "/h", containerPath: "/c", readonly: true, selinuxRelabel: true })],
      { ...API44, selinuxLevel: "s0:c1" },
    );
    assert.deepEqual(got.Binds, ["/h:/c:ro,Z"]);
    assert.deepEqual(got.Mounts, []);
    assert.equal(got.warnings.length, 1);
    assert.match(got.warnings[0] ?? "", /^mounts\[0\]: read-only and relabeled/);
  });

  test("pod files are bound unless the config mounts that path", () => {
    const got = buildMounts([mount({ hostPath: "/k/etc-hosts", containerPath: "/etc/hosts" })], {
      ...API41,
      podFiles: { resolvConf: "/run/berth/p/resolv.conf", hosts: "/run/berth/p/hosts" },
    });
    assert.deepEqual(got.Binds, [
      "/k/etc-hosts:/etc/hosts",
      "/run/berth/p/resolv.conf:/etc/resolv.conf:z",
    ]);
  });

  test("pod files are read-only in a read-only-rootfs container", () => {
    const got = buildMounts([], {
      ...API44,
      readonlyRootfs: true,
      podFiles: { resolvConf: "/r", hostname: "/n" },
    });
    assert.deepEqual(got.Binds, ["/r:/etc/resolv.conf:ro,z", "/n:/etc/hostname:ro,z"]);
  });

  const errors: Array<{
    name: string;
    mounts: ReturnType<typeof mount>[];
    ctx: MountContext;
    message: RegExp;
  }> = [
    {
      name: "recursive_read_only without readonly",
      mounts: [mount({ hostPath: "/h", containerPath: "/c", recursiveReadOnly: true })],
      ctx: API44,
      message: /^mounts\[0\]\.recursive_read_only: needs readonly$/,
    },
    {
      name: "recursive_read_only with HOST_TO_CONTAINER (critest)",
      mounts: [
        mount({
          hostPath: "/h",
          containerPath: "/c",
          readonly: true,
          recursiveReadOnly: true,
          propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
        }),
      ],
      ctx: API44,
      message: /^mounts\[0\]\.recursive_read_only: needs propagation PROPAGATION_PRIVATE/,
    },
    {
      name: "recursive_read_only with BIDIRECTIONAL (critest)",
      mounts: [
        mount({
          hostPath: "/h",
          containerPath: "/c",
          readonly: true,
          recursiveReadOnly: true,
          propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL,
        }),
      ],
      ctx: API44,
      message: /^mounts\[0\]\.recursive_read_only: needs propagation PROPAGATION_PRIVATE/,
    },
    {
      name: "recursive_read_only where the engine cannot",
      mounts: [
        mount({ hostPath: "/h", containerPath: "/c", readonly: true, recursiveReadOnly: true }),
      ],
      ctx: API41,
      message: /^mounts\[0\]\.recursive_read_only: this engine and kernel cannot/,
    },
    {
      name: "uid mappings",
      mounts: [
        mount({
          hostPath: "/h",
          containerPath: "/c",
          uidMappings: [{ hostId: 1000, containerId: 0, length: 1 }],
        }),
      ],
      ctx: API48,
      message: /^mounts\[0\]\.uidMappings: Docker Engine cannot make id-mapped mounts/,
    },
    {
      name: "gid mappings, naming the right index",
      mounts: [
        mount({ hostPath: "/a", containerPath: "/a" }),
        mount({
          hostPath: "/h",
          containerPath: "/c",
          gidMappings: [{ hostId: 1000, containerId: 0, length: 1 }],
        }),
      ],
      ctx: API48,
      message: /^mounts\[1\]\.gidMappings:/,
    },
    {
      name: "an image volume before API 1.48",
      mounts: [mount({ containerPath: "/c", image: { image: "busybox" } })],
      ctx: API44,
      message: /^mounts\[0\]\.image: image volumes need Docker Engine API 1\.48 .*speaks 1\.44/,
    },
    {
      name: "an image volume with a host path",
      mounts: [mount({ hostPath: "/h", containerPath: "/c", image: { image: "busybox" } })],
      ctx: API48,
      message: /^mounts\[0\]\.host_path: must be empty when image is set/,
    },
    {
      name: "image_sub_path without image",
      mounts: [mount({ hostPath: "/h", containerPath: "/c", imageSubPath: "x" })],
      ctx: API48,
      message: /^mounts\[0\]\.image_sub_path:/,
    },
    {
      name: "a relative container path",
      mounts: [mount({ hostPath: "/h", containerPath: "c" })],
      ctx: API41,
      message: /^mounts\[0\]\.container_path: "c" must be an absolute path/,
    },
    {
      name: "a missing host path",
      mounts: [mount({ containerPath: "/c" })],
      ctx: API41,
      message: /^mounts\[0\]\.host_path: required/,
    },
    {
      name: "a relative host path",
      mounts: [mount({ hostPath: "h", containerPath: "/c" })],
      ctx: API41,
      message: /^mounts\[0\]\.host_path: "h" must be an absolute path/,
    },
    {
      name: "two mounts on one target",
      mounts: [
        mount({ hostPath: "/a", containerPath: "/c" }),
        mount({ hostPath: "/b", containerPath: "/c/" }),
      ],
      ctx: API41,
      message: /^mounts\[1\]\.container_path: \/c is already the target of mounts\[0\]/,
    },
    {
      name: "relabeling a path with ':'",
      mounts: [mount({ hostPath: "/h:x", containerPath: "/c", selinuxRelabel: true })],
      ctx: { ...API41, selinuxLevel: "s0" },
      message: /^mounts\[0\]\.host_path: a path with ":"/,
    },
    {
      name: "an unknown propagation",
      mounts: [mount({ hostPath: "/h", containerPath: "/c", propagation: 9 as MountPropagation })],
      ctx: API41,
      message: /^mounts\[0\]\.propagation: unknown value 9/,
    },
  ];
  for (const { name, mounts, ctx, message } of errors) {
    test(`rejects ${name}`, () => assertInvalid(() => buildMounts(mounts, ctx), message));
  }
});

describe("buildDevices", () => {
  test("maps host, container path and permissions", () => {
    assert.deepEqual(
      buildDevices([
        create(DeviceSchema, {
          hostPath: "/dev/fuse",
          containerPath: "/dev/fuse",
          permissions: "rw",
        }),
        create(DeviceSchema, { hostPath: "/dev/nvidia0", containerPath: "/dev/gpu" }),
        create(DeviceSchema, { hostPath: "/dev/kvm" }),
      ]),
      [
        { PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rw" },
        { PathOnHost: "/dev/nvidia0", PathInContainer: "/dev/gpu", CgroupPermissions: "rwm" },
        { PathOnHost: "/dev/kvm", PathInContainer: "/dev/kvm", CgroupPermissions: "rwm" },
      ],
    );
  });
  const errors: Array<{
    name: string;
    device: MessageInitShape<typeof DeviceSchema>;
    message: RegExp;
  }> = [
    {
      name: "bad permissions",
      device: { hostPath: "/dev/fuse", permissions: "rx" },
      message: /^devices\[0\]\.permissions: "rx" must be made of r, w and m/,
    },
    {
      name: "repeated permissions",
      device: { hostPath: "/dev/fuse", permissions: "rr" },
      message: /^devices\[0\]\.permissions:/,
    },
    {
      name: "a relative host path",
      device: { hostPath: "fuse" },
      message: /^devices\[0\]\.host_path:/,
    },
    {
      name: "a relative container path",
      device: { hostPath: "/dev/fuse", containerPath: "fuse" },
      message: /^devices\[0\]\.container_path:/,
    },
  ];
  for (const { name, device, message } of errors) {
    test(`rejects ${name}`, () =>
      assertInvalid(() => buildDevices([create(DeviceSchema, device)]), message));
  }
});

describe("cdiDeviceRequests", () => {
  const cdi = (name: string) => create(CDIDeviceSchema, { name });
  test("none", () => assert.equal(cdiDeviceRequests([], { apiVersion: "1.41" }), undefined));
  test("one cdi request naming every device, from API 1.44", () =>
    assert.deepEqual(
      cdiDeviceRequests([cdi("nvidia.com/gpu=0"), cdi("vendor.com/class=all")], {
        apiVersion: "1.44",
      }),
      [{ Driver: "cdi", DeviceIDs: ["nvidia.com/gpu=0", "vendor.com/class=all"] }],
    ));
  test("rejects CDI devices before API 1.44", () =>
    assertInvalid(
      () => cdiDeviceRequests([cdi("nvidia.com/gpu=0")], { apiVersion: "1.41" }),
      /^CDI_devices\[0\]\.name: CDI devices need Docker Engine API 1\.44/,
    ));
  test("rejects an unqualified name", () =>
    assertInvalid(
      () => cdiDeviceRequests([cdi("nvidia.com/gpu=0"), cdi("gpu0")], { apiVersion: "1.51" }),
      /^CDI_devices\[1\]\.name: "gpu0" is not a fully qualified CDI name/,
    ));
});
