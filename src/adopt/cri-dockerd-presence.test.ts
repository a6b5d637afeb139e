import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  criDockerdEngineOf,
  criDockerdStillServes,
  listeningUnixSockets,
  sameEngine,
} from "./cri-dockerd-presence.ts";

const PROC_NET_UNIX = `Num       RefCount Protocol Flags    Type St Inode Path
000000008a69d0d6: 00000003 00000000 00000000 0001 03 2515472 /var/run/docker.sock
00000000b9cecc7d: 00000002 00000000 00010000 0001 01 2428403 /run/cri-dockerd.sock
00000000dc405f12: 00000003 00000000 00000000 0001 03 2388379
00000000dc405f13: 00000002 00000000 00010000 0001 01 2388380 @abstract
`;

describe("listeningUnixSockets", () => {
  test("listening sockets with a path only", () => {
    assert.deepEqual([...listeningUnixSockets(PROC_NET_UNIX)], ["/run/cri-dockerd.sock"]);
    assert.deepEqual([...listeningUnixSockets("")], []);
  });
});

describe("criDockerdEngineOf", () => {
  const cases: Array<[string[], string]> = [
    [["cri-dockerd"], "unix:///var/run/docker.sock"],
    [["cri-dockerd", "--docker-endpoint=tcp://h:2375"], "tcp://h:2375"],
    [["cri-dockerd", "--docker-endpoint", "unix:///x.sock"], "unix:///x.sock"],
    [
      ["cri-dockerd", "-docker-endpoint", "unix:///y.sock", "--log-level", "debug"],
      "unix:///y.sock",
    ],
    [["cri-dockerd", "--docker-endpoint=unix:///a", "--docker-endpoint=unix:///b"], "unix:///b"],
    [["cri-dockerd", "--docker-endpoint"], "unix:///var/run/docker.sock"],
    [["cri-dockerd", "--docker-endpoint-x=unix:///a"], "unix:///var/run/docker.sock"],
  ];
  for (const [argv, want] of cases) {
    test(argv.join(" "), () => assert.equal(criDockerdEngineOf(argv), want));
  }
});

describe("criDockerdStillServes", () => {
  let proc: string;

  before(async () => {
    proc = await mkdtemp(join(tmpdir(), "berth-presence-"));
    await writeFile(join(proc, "engine.sock"), "");
  });
  after(() => rm(proc, { recursive: true, force: true }));

  async function fakeProcess(pid: number, comm: string, argv: string[]) {
    await mkdir(join(proc, String(pid)), { recursive: true });
    await writeFile(join(proc, String(pid), "comm"), `${comm}\n`);
    await writeFile(join(proc, String(pid), "cmdline"), `${argv.join("\0")}\0`);
  }

  test("a unix endpoint is the same engine through another spelling of its path", async () => {
    assert.equal(
      await sameEngine(
        `unix://${proc}/engine.sock`,
        `unix://${proc}/../${proc.split("/").pop()}/engine.sock`,
      ),
      true,
    );
    assert.equal(await sameEngine("unix:///a.sock", "unix:///b.sock"), false);
  });

  test("nothing: no cri-dockerd", async () => {
    await writeFile(join(proc, "net-unix"), "");
    assert.equal(
      await criDockerdStillServes({
        dockerHost: "unix:///e",
        criDockerdSocket: undefined,
        procDir: proc,
      }),
      undefined,
    );
  });

  test("a cri-dockerd on another engine does not count, one on this engine does", async () => {
    await fakeProcess(101, "cri-dockerd", ["cri-dockerd", "--docker-endpoint=unix:///other.sock"]);
    await fakeProcess(102, "sleep", ["sleep", "--docker-endpoint", `unix://${proc}/engine.sock`]);
    const input = {
      dockerHost: `unix://${proc}/engine.sock`,
      criDockerdSocket: undefined,
      procDir: proc,
    };
    assert.equal(await criDockerdStillServes(input), undefined);
    await fakeProcess(103, "cri-dockerd", [
      "/usr/bin/cri-dockerd",
      "--docker-endpoint",
      `unix://${proc}/engine.sock`,
    ]);
    assert.match(
      (await criDockerdStillServes(input)) ?? "",
      /cri-dockerd \(pid 103\) still serves/,
    );
    await writeFile(join(proc, "103", "stat"), "103 (cri-dockerd) Z 1 103 103 0 -1");
    assert.equal(await criDockerdStillServes(input), undefined, "a zombie does not count");
    await rm(join(proc, "103"), { recursive: true });
  });

  test("a listening cri-dockerd socket counts (systemd's socket unit would start it)", async () => {
    await mkdir(join(proc, "net"), { recursive: true });
    await writeFile(join(proc, "net", "unix"), PROC_NET_UNIX);
    const input = { dockerHost: "unix:///e", procDir: proc };
    assert.match(
      (await criDockerdStillServes({ ...input, criDockerdSocket: "/run/cri-dockerd.sock" })) ?? "",
      /socket \/run\/cri-dockerd.sock is still listening/,
    );
    assert.equal(
      await criDockerdStillServes({ ...input, criDockerdSocket: "/run/other.sock" }),
      undefined,
    );
  });
});
