import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { resolveIdentity, strictUser } from "./container-identity.ts";

/** The accounts of critest's test-image-predefined-group, and a root. */
const files = {
  passwd: [
    "root:x:0:0:root:/root:/bin/sh",
    "default-user:x:1000:1000::/home/default-user:/bin/sh",
    "",
  ].join("\n"),
  group: [
    "root:x:0:",
    "wheel:x:10:root",
    "default-user:x:1000:",
    "group-defined-in-image:x:50000:default-user",
    "extra:x:1234:",
    "",
  ].join("\n"),
};

describe("resolveIdentity (as Docker 20.10 ran each case)", () => {
  const cases: Array<{
    user: string;
    groupAdd: string[];
    expected: [number, number, number[]] | undefined;
  }> = [
    // `docker run -u 1000 --group-add 1234`: id -G printed 1000 1234 50000 (Merge).
    { user: "1000", groupAdd: ["1234"], expected: [1000, 1000, [1000, 1234, 50000]] },
    { user: "default-user", groupAdd: ["1234"], expected: [1000, 1000, [1000, 1234, 50000]] },
    // `-u 1000:1000 --group-add 1234`: 1000 1234 (Strict).
    { user: "1000:1000", groupAdd: ["1234"], expected: [1000, 1000, [1000, 1234]] },
    { user: "default-user:1000", groupAdd: ["1234"], expected: [1000, 1000, [1000, 1234]] },
    { user: "", groupAdd: [], expected: [0, 0, [0, 10]] },
    { user: "2000", groupAdd: ["extra"], expected: [2000, 0, [0, 1234]] },
    { user: "nobody-here", groupAdd: [], expected: undefined },
    { user: "1000:no-such-group", groupAdd: [], expected: undefined },
  ];
  for (const { user, groupAdd, expected } of cases) {
    test(`User "${user}", GroupAdd [${groupAdd.join(",")}]`, () => {
      const identity = resolveIdentity(user, groupAdd, files);
      assert.deepEqual(
        identity && [
          Number(identity.uid),
          Number(identity.gid),
          identity.supplementalGroups.map(Number),
        ],
        expected,
      );
    });
  }

  test("a container without account files runs numeric ids with group 0", () => {
    assert.deepEqual(resolveIdentity("65534", [], { passwd: "", group: "" }), {
      uid: 65534n,
      gid: 0n,
      supplementalGroups: [0n],
    });
  });
});

describe("strictUser", () => {
  test("adds the primary group from /etc/passwd", () => {
    assert.equal(strictUser("1000", files.passwd), "1000:1000");
    assert.equal(strictUser("default-user", files.passwd), "default-user:1000");
  });
  test("the image's root when no user is given", () => {
    assert.equal(strictUser("", files.passwd), "0:0");
  });
  test("group 0 for a uid /etc/passwd does not know", () => {
    assert.equal(strictUser("4321", files.passwd), "4321:0");
  });
  test("an explicit group is kept", () => {
    assert.equal(strictUser("1000:50000", files.passwd), "1000:50000");
  });
});
