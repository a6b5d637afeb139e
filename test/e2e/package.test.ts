import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { writeTestNetwork } from "../support/cni.ts";
import { loadFixtures } from "../support/fixtures.ts";
import { podConfig } from "../support/pods.ts";
import { forwardOnce, httpBody } from "../support/port-forward-client.ts";
import { execOverSpdy } from "../support/remote-command-client.ts";
import { SpdyTestClient } from "../support/spdy-client.ts";

/**
 * `npm run package`'s two products, as a node would get them: the single executable run from
 * a directory without node_modules and with no Node.js on PATH, serving CRI and streaming; the
 * .deb installed, upgraded in place and purged with the real dpkg. release/ is rebuilt first
 * unless it is newer than everything it is built from.
 */
const REPO = join(import.meta.dirname, "..", "..");
const RELEASE = join(REPO, "release");
const VERSION = (
  JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }
).version;
const EXE = join(RELEASE, "berth-linux-amd64");
const DEB = join(RELEASE, `berth_${VERSION}_amd64.deb`);
const SOURCES = ["src", "packaging", "scripts/package.sh", "package.json", "package-lock.json"];

function has(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
}

const skip =
  process.getuid?.() !== 0
    ? "needs root (dpkg -i, mounts of the pods' network namespaces)"
    : !has("dpkg-deb")
      ? "needs dpkg-deb"
      : false;

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function releaseIsFresh(): boolean {
  if (!existsSync(EXE) || !existsSync(DEB)) return false;
  const built = Math.min(statSync(EXE).mtimeMs, statSync(DEB).mtimeMs);
  return SOURCES.every((source) => newestMtime(join(REPO, source)) < built);
}

before(() => {
  if (skip || releaseIsFresh()) return;
  const result = spawnSync("bash", ["scripts/package.sh"], {
    cwd: REPO,
    env: { ...process.env, BERTH_LINTIAN: "0" },
    encoding: "utf8",
    timeout: 600_000,
  });
  assert.equal(result.status, 0, `npm run package failed:\n${result.stderr.slice(-4000)}`);
});

describe("the single executable", { skip }, () => {
  const fx = loadFixtures();
  const dir = mkdtempSync(join(tmpdir(), "berth-exe-"));
  const cniDir = join(dir, "cni");
  const binDir = join(dir, "bin");
  const exe = join(dir, "berth");
  // What berth itself runs besides CNI plugins (which find iptables in /usr/sbin): nsenter for
  // the netns dialer, mount and umount for network namespace pins. No node anywhere.
  const PATH = `${binDir}:/usr/sbin:/sbin`;
  let berth: BerthProcess;
  let podSandboxId: string;
  let containerId: string;

  before(async () => {
    mkdirSync(cniDir);
    mkdirSync(binDir);
    for (const tool of ["nsenter", "mount", "umount"]) {
      symlinkSync(
        execFileSync("sh", ["-c", `command -v ${tool}`])
          .toString()
          .trim(),
        join(binDir, tool),
      );
    }
    copyFileSync(EXE, exe);
    execFileSync("chmod", ["0755", exe]);
    writeTestNetwork(cniDir);
    berth = await startBerth({
      executable: exe,
      cwd: dir,
      env: { PATH, NODE_OPTIONS: "--this-option-does-not-exist" },
      args: ["--cni-conf-dir", cniDir],
    });
  });
  after(async () => {
    if (podSandboxId) await berth.client.runtime.removePodSandbox({ podSandboxId });
    await berth?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("runs from a directory without node_modules, with no node on PATH", () => {
    assert.deepEqual(readdirSync(dir).sort(), ["berth", "bin", "cni"]);
    const found = spawnSync("sh", ["-c", "command -v node nodejs"], { env: { PATH } });
    assert.notEqual(found.status, 0, `node is on PATH: ${found.stdout}`);
    assert.equal(readlinkSync(`/proc/${berth.child.pid}/exe`), exe);
  });

  test("serves Version and Status over its socket", async () => {
    const version = await berth.client.runtime.version({});
    assert.equal(version.runtimeApiVersion, "v1");
    assert.equal(version.runtimeName, "docker");
    assert.match(version.runtimeVersion, /^\d+\.\d+/);
    const status = await berth.client.runtime.status({});
    const conditions = Object.fromEntries(
      (status.status?.conditions ?? []).map((c) => [c.type, c.status]),
    );
    assert.equal(conditions.RuntimeReady, true);
    assert.equal(conditions.NetworkReady, true);
  });

  test("runs a pod, execs in it, and port-forwards through its netns dialer", async () => {
    const config = podConfig("exe");
    podSandboxId = (await berth.client.runtime.runPodSandbox({ config })).podSandboxId;
    containerId = (
      await berth.client.runtime.createContainer({
        podSandboxId,
        sandboxConfig: config,
        config: {
          metadata: { name: "app", attempt: 0 },
          image: { image: fx.images.busybox },
          command: [
            "sh",
            "-c",
            "mkdir -p /tmp/www && echo pong > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:7070 -h /tmp/www",
          ],
        },
      })
    ).containerId;
    await berth.client.runtime.startContainer({ containerId });

    const exec = await berth.client.runtime.exec({
      containerId,
      cmd: ["sh", "-c", "echo hello; exit 3"],
      stdout: true,
    });
    const result = await execOverSpdy(exec.url, { stdout: true });
    assert.equal(result.stdout, "hello\n");
    assert.equal(result.exitCode, 3);

    // The pod's server listens on its localhost only: reached through the dialer child, which
    // in the single executable is the executable itself in its dialer mode.
    const { url } = await berth.client.runtime.portForward({ podSandboxId, port: [7070] });
    const client = await SpdyTestClient.connect(url, ["portforward.k8s.io"]);
    try {
      let answer: Awaited<ReturnType<typeof forwardOnce>> | undefined;
      for (let attempt = 0; attempt < 50; attempt++) {
        answer = await forwardOnce(client, 7070, attempt, "GET / HTTP/1.0\r\n\r\n");
        if (answer.error === "") break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(answer?.error, "", berth.output().slice(-2000));
      assert.equal(httpBody(answer?.data ?? Buffer.alloc(0)).toString(), "pong\n");
    } finally {
      await client.close();
    }
  });
});

function dpkg(...args: string[]): string {
  return execFileSync("dpkg", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function installedStatus(): string {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format, not a template
  const result = spawnSync("dpkg-query", ["-W", "-f", "${db:Status-Status}", "berth"], {
    encoding: "utf8",
  });
  return result.status === 0 ? result.stdout : "not-installed";
}

/** Every process whose executable is the installed berth. */
function berthProcesses(): string[] {
  return readdirSync("/proc").filter((pid) => {
    if (!/^\d+$/.test(pid)) return false;
    try {
      return readlinkSync(`/proc/${pid}/exe`).startsWith("/usr/bin/berth");
    } catch {
      return false;
    }
  });
}

const PACKAGE_FILES = [
  "/usr/bin/berth",
  "/lib/systemd/system/berth.service",
  "/lib/systemd/system/berth.socket",
  "/usr/lib/sysctl.d/30-berth.conf",
  "/etc/berth/config.yaml",
  "/usr/share/man/man8/berth.8.gz",
  "/usr/share/doc/berth/copyright",
];
const ENABLED_LINKS = [
  "/etc/systemd/system/sockets.target.wants/berth.socket",
  "/etc/systemd/system/multi-user.target.wants/berth.service",
];

const debSkip =
  skip ||
  (installedStatus() !== "not-installed"
    ? "a berth package is installed on this machine: not touching it"
    : existsSync("/var/lib/berth") || existsSync("/etc/berth")
      ? "/var/lib/berth or /etc/berth exists (a berth runs here): purge would remove it"
      : false);

describe("the .deb", { skip: debSkip }, () => {
  after(() => {
    if (installedStatus() !== "not-installed") dpkg("-P", "berth");
  });

  test("has the control fields a Debian user expects", () => {
    const field = (name: string) =>
      execFileSync("dpkg-deb", ["-f", DEB, name], { encoding: "utf8" }).trim();
    assert.equal(field("Package"), "berth");
    assert.equal(field("Version"), VERSION);
    assert.equal(field("Architecture"), "amd64");
    assert.equal(field("Section"), "admin");
    assert.equal(field("Priority"), "optional");
    assert.match(field("Depends"), /(^|, )docker\.io \| docker-ce(,|$)/);
    assert.match(field("Depends"), /libc6 \(>= [\d.]+\)/);
    // systemd: berth.service is Type=notify, and berth sends READY=1 through systemd-notify.
    assert.equal(field("Recommends"), "containernetworking-plugins, systemd");
    assert.match(field("Maintainer"), /^.+ <[^@\s]+@[^@\s]+>$/);
    assert.match(field("Description"), /^Kubernetes CRI runtime for Docker Engine\n /);
    // Installed-Size is KiB: about the executable's size.
    const kib = Number(field("Installed-Size"));
    assert.ok(kib * 1024 >= statSync(EXE).size && kib * 1024 < statSync(EXE).size * 1.1, `${kib}`);
    const listing = execFileSync("dpkg-deb", ["-c", DEB], { encoding: "utf8" });
    for (const line of listing.trim().split("\n")) assert.match(line, /^\S+ root\/root /);
  });

  test("installs without starting anything where systemd does not run", () => {
    assert.ok(!existsSync("/run/systemd/system"), "this test expects no running systemd");
    // The postinst raises the inotify limit for the running boot (30-berth.conf): from the
    // kernel's default here, put back afterwards.
    const limit = "/proc/sys/fs/inotify/max_user_instances";
    const previous = readFileSync(limit, "utf8").trim();
    writeFileSync(limit, "128");
    try {
      dpkg("-i", DEB);
      assert.equal(readFileSync(limit, "utf8").trim(), "8192");
    } finally {
      writeFileSync(limit, previous);
    }
    assert.equal(installedStatus(), "installed");
    for (const file of PACKAGE_FILES) assert.ok(existsSync(file), `${file} installed`);
    const listed = dpkg("-L", "berth").split("\n");
    for (const file of PACKAGE_FILES) assert.ok(listed.includes(file), `dpkg -L lists ${file}`);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format, not a template
    const conffiles = execFileSync("dpkg-query", ["-W", "-f", "${Conffiles}", "berth"], {
      encoding: "utf8",
    });
    assert.match(conffiles, /^ \/etc\/berth\/config\.yaml [0-9a-f]{32}$/m);
    // Enabled the Debian way (the symlinks a later boot follows), started never.
    for (const link of ENABLED_LINKS) assert.ok(existsSync(link), `${link} enabled`);
    assert.deepEqual(berthProcesses(), []);
    assert.ok(!existsSync("/run/berth/berth.sock"));
    // The copyright file names what the executable bundles, Node.js included.
    const copyright = readFileSync("/usr/share/doc/berth/copyright", "utf8");
    for (const bundled of ["@grpc/grpc-js", "@bufbuild/protobuf", "pino", "ws", "Node.js"]) {
      assert.match(copyright, new RegExp(`^Comment: ${bundled} `, "m"), bundled);
    }
    const help = spawnSync("/usr/bin/berth", ["--help"], {
      encoding: "utf8",
      env: { PATH: "/usr/bin:/bin" },
    });
    assert.match(help.stdout + help.stderr, /--container-runtime-endpoint/);
  });

  test("systemd-analyze verify accepts the installed units", {
    skip: !has("systemd-analyze") && "needs systemd-analyze (Debian's systemd)",
  }, () => {
    const result = spawnSync(
      "systemd-analyze",
      [
        "verify",
        // Documentation=man:berth(8) is checked with man(1) when the machine has it.
        ...(has("man") ? [] : ["--man=no"]),
        "/lib/systemd/system/berth.socket",
        "/lib/systemd/system/berth.service",
      ],
      { encoding: "utf8" },
    );
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr.trim(), "");
  });

  test("an upgrade in place keeps the edited conffile", () => {
    const edited = `${readFileSync("/etc/berth/config.yaml", "utf8")}# edited by the e2e test\n`;
    writeFileSync("/etc/berth/config.yaml", edited);
    dpkg("-i", DEB);
    assert.equal(readFileSync("/etc/berth/config.yaml", "utf8"), edited);
    assert.equal(installedStatus(), "installed");
  });

  test("remove keeps the configuration, purge leaves nothing", () => {
    mkdirSync("/var/lib/berth/sandboxes", { recursive: true });
    writeFileSync("/var/lib/berth/runtime-config.json", "{}");
    dpkg("-r", "berth");
    assert.equal(installedStatus(), "config-files");
    assert.ok(!existsSync("/usr/bin/berth"));
    assert.ok(existsSync("/etc/berth/config.yaml"), "a conffile stays until purge");

    dpkg("-P", "berth");
    assert.equal(installedStatus(), "not-installed");
    assert.notEqual(spawnSync("dpkg", ["-L", "berth"]).status, 0);
    for (const path of [...PACKAGE_FILES, ...ENABLED_LINKS, "/etc/berth", "/var/lib/berth"]) {
      assert.ok(!existsSync(path), `${path} removed`);
    }
    const leftovers = execFileSync(
      "find",
      [
        "/etc/systemd",
        "/var/lib/systemd",
        "/var/lib/dpkg/info",
        "/usr/share/doc",
        "/usr/share/man",
        "-name",
        "berth*",
      ],
      { encoding: "utf8" },
    );
    assert.equal(leftovers.trim(), "");
  });
});
