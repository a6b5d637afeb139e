import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { CniPluginError, findPlugin, invokePlugin, type PluginInvocation } from "./cni-exec.ts";

const log = pino({ level: "silent" });

/** Resolves once a plugin has made the file: aborting then hits it mid-run, however slow. */
async function waitForFile(path: string): Promise<void> {
  for (;;) {
    try {
      await readFile(path);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

describe("CNI plugin execution", () => {
  let root: string;
  let bin: string;

  async function plugin(name: string, script: string, dir = bin, mode = 0o755): Promise<string> {
    await mkdir(dir, { recursive: true });
    const path = join(dir, name);
    await writeFile(path, `#!/bin/sh\n${script}\n`);
    await chmod(path, mode);
    return path;
  }

  const run = async (name: string, overrides: Partial<PluginInvocation> = {}) =>
    invokePlugin({
      plugin: name,
      path: join(bin, name),
      command: "ADD",
      network: "testnet",
      env: {},
      stdin: { cniVersion: "1.0.0", name: "testnet", type: name },
      timeoutMs: 5_000,
      log,
      ...overrides,
    });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-cni-exec-test-"));
    bin = join(root, "bin");
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  describe("findPlugin", () => {
    test("the first directory holding an executable of that name wins", async () => {
      const first = join(root, "first");
      const second = join(root, "second");
      await plugin("both", "exit 0", first);
      await plugin("both", "exit 0", second);
      await plugin("onlysecond", "exit 0", second);
      await plugin("notexec", "exit 0", first, 0o644);
      await plugin("notexec", "exit 0", second);
      await mkdir(join(first, "adir"));
      await plugin("adir", "exit 0", second);
      const dirs = [join(root, "absent"), first, second];
      assert.equal(await findPlugin("both", dirs), join(first, "both"));
      assert.equal(await findPlugin("onlysecond", dirs), join(second, "onlysecond"));
      assert.equal(await findPlugin("notexec", dirs), join(second, "notexec"));
      assert.equal(await findPlugin("adir", dirs), join(second, "adir"));
    });

    test("a missing plugin names the directories searched", async () => {
      await assert.rejects(findPlugin("nosuch", ["/a", "/b"]), (err: Error & { kind?: string }) => {
        assert.equal(err.kind, "FailedPrecondition");
        assert.match(err.message, /"nosuch" not found in \/a:\/b/);
        return true;
      });
    });

    for (const type of ["../bridge", "a/b", "", ".."]) {
      test(`a type that is a path is refused: "${type}"`, async () => {
        await assert.rejects(findPlugin(type, [bin]), /not a plugin name/);
      });
    }
  });

  test("CNI_* variables, stdin and the JSON answer", async () => {
    await plugin(
      "echo",
      `env | grep -E '^(CNI_|PATH=)' | sort > "${root}/echo.env"\ncat > "${root}/echo.stdin"\necho '{"cniVersion":"1.0.0","ips":[]}'`,
    );
    process.env.CNI_STRAY = "from berth's own environment";
    try {
      const output = await run("echo", {
        command: "DEL",
        env: {
          CNI_CONTAINERID: "c1",
          CNI_NETNS: "",
          CNI_IFNAME: "eth0",
          CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=p",
          CNI_PATH: "/x:/y",
        },
      });
      assert.deepEqual(output, { cniVersion: "1.0.0", ips: [] });
    } finally {
      delete process.env.CNI_STRAY;
    }
    const env = (await readFile(join(root, "echo.env"), "utf8")).trim().split("\n");
    assert.deepEqual(
      env.filter((line) => line.startsWith("CNI_")),
      [
        "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=p",
        "CNI_COMMAND=DEL",
        "CNI_CONTAINERID=c1",
        "CNI_IFNAME=eth0",
        "CNI_NETNS=",
        "CNI_PATH=/x:/y",
      ],
    );
    assert.ok(
      env.some((line) => line.startsWith("PATH=")),
      "PATH kept: plugins run iptables",
    );
    assert.deepEqual(JSON.parse(await readFile(join(root, "echo.stdin"), "utf8")), {
      cniVersion: "1.0.0",
      name: "testnet",
      type: "echo",
    });
  });

  test("empty output is no result (DEL, CHECK)", async () => {
    await plugin("quiet", "cat >/dev/null");
    assert.equal(await run("quiet"), undefined);
  });

  test("a plugin that does not read its stdin", async () => {
    await plugin("noread", "echo '{}'");
    assert.deepEqual(await run("noread", { stdin: { big: "x".repeat(1 << 20) } }), {});
  });

  test("the spec's error object becomes a CniPluginError naming plugin, command and network", async () => {
    await plugin(
      "invalid",
      `echo '{"cniVersion":"1.0.0","code":7,"msg":"Invalid Configuration","details":"subnet too small"}'\nexit 1`,
    );
    await assert.rejects(run("invalid"), (err: unknown) => {
      assert.ok(err instanceof CniPluginError);
      assert.equal(err.kind, "FailedPrecondition");
      assert.equal(err.code, 7);
      assert.equal(err.plugin, "invalid");
      assert.equal(err.command, "ADD");
      assert.equal(
        err.message,
        "CNI plugin invalid failed ADD on network testnet: Invalid Configuration: subnet too small (code 7)",
      );
      return true;
    });
  });

  test("code 11 (try again later) is Unavailable; plugin codes are Internal", async () => {
    await plugin("busy", `echo '{"code":11,"msg":"busy"}'; exit 1`);
    await plugin("own", `echo '{"code":999,"msg":"iptables failed"}'; exit 1`);
    await assert.rejects(run("busy"), { kind: "Unavailable", code: 11 });
    await assert.rejects(run("own"), { kind: "Internal", code: 999 });
  });

  test("a failure without an error object reports stderr", async () => {
    await plugin("panics", `echo 'panic: runtime error: nil pointer' >&2; exit 2`);
    await assert.rejects(
      run("panics", { command: "CHECK" }),
      /CNI plugin panics failed CHECK on network testnet: exit status 2: panic: runtime error: nil pointer/,
    );
  });

  test("success with output that is not JSON is an error", async () => {
    await plugin("garbage", "echo 'hello'");
    await assert.rejects(run("garbage"), /output is not JSON: hello/);
  });

  test("a plugin that cannot be run", async () => {
    await writeFile(join(bin, "broken"), "#!/nonexistent/interpreter\n");
    await chmod(join(bin, "broken"), 0o755);
    await assert.rejects(run("broken"), /cannot run .*broken/);
  });

  test("a plugin past its deadline is killed with its children", async () => {
    const pidFile = join(root, "slow.child");
    await plugin("slow", `sleep 30 &\necho $! > "${pidFile}"\nwait`);
    const started = Date.now();
    await assert.rejects(run("slow", { timeoutMs: 1_000 }), (err: unknown) => {
      assert.ok(err instanceof CniPluginError);
      assert.equal(err.kind, "DeadlineExceeded");
      assert.match(err.message, /no answer within 1000 ms \(--cni-plugin-timeout\); killed/);
      return true;
    });
    assert.ok(Date.now() - started < 5_000);
    const child = Number(await readFile(pidFile, "utf8"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Gone, or a zombie when this machine's PID 1 does not reap orphans: either way not running.
    const state = await readFile(`/proc/${child}/stat`, "utf8").then(
      (stat) => stat.slice(stat.lastIndexOf(")") + 2)[0],
      () => "gone",
    );
    assert.ok(state === "gone" || state === "Z", `the plugin's child is still running (${state})`);
  });

  test("the caller's abort kills the plugin and is Cancelled", async () => {
    const startedFile = join(root, "waits.started");
    await plugin("waits", `touch "${startedFile}"\nexec sleep 30`);
    const controller = new AbortController();
    void waitForFile(startedFile).then(() => controller.abort(new Error("client went away")));
    await assert.rejects(run("waits", { signal: controller.signal }), {
      kind: "Cancelled",
      name: "BerthError(Cancelled)",
    });
  });

  test("an already aborted signal runs nothing", async () => {
    const marker = join(root, "ran");
    await plugin("marker", `touch "${marker}"`);
    await assert.rejects(run("marker", { signal: AbortSignal.abort() }), { kind: "Cancelled" });
    await assert.rejects(readFile(marker), /ENOENT/);
  });
});
