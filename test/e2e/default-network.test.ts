import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { parseCidr } from "../../src/network/cidr.ts";
import {
  BERTH_BRIDGE,
  DEFAULT_POD_CIDR,
  networkAddress,
} from "../../src/network/default-network.ts";
import { chainNames, removeForwardingRules } from "../../src/network/forwarding-rules.ts";
import { startBerth } from "../support/berth-process.ts";
import { testDocker } from "../support/docker.ts";
import { inNetns } from "../support/netns.ts";
import { podConfig } from "../support/pods.ts";

interface Conflist {
  name: string;
  plugins: Array<{ type: string; ipam?: { ranges?: Array<Array<{ subnet: string }>> } }>;
}

function subnetsIn(file: string): string[] {
  const config = JSON.parse(readFileSync(file, "utf8")) as Conflist;
  const bridge = config.plugins.find((plugin) => plugin.type === "bridge");
  return (bridge?.ipam?.ranges ?? []).flat().map((range) => range.subnet);
}

describe("berth's default CNI network", () => {
  test("written into an empty config dir from --pod-cidr, rewritten by UpdateRuntimeConfig", async () => {
    const cniDir = mkdtempSync(join(tmpdir(), "berth-default-net-"));
    const berth = await startBerth({
      args: ["--cni-conf-dir", cniDir, "--pod-cidr", "10.55.0.0/24"],
    });
    try {
      const file = join(cniDir, "99-berth.conflist");
      assert.deepEqual(readdirSync(cniDir), ["99-berth.conflist"]);
      assert.deepEqual(subnetsIn(file), ["10.55.0.0/24"]);
      const status = await berth.client.runtime.status({});
      const network = status.status?.conditions.find((c) => c.type === "NetworkReady");
      assert.equal(network?.status, true, network?.message);

      await berth.client.runtime.updateRuntimeConfig({
        runtimeConfig: { networkConfig: { podCidr: "10.56.0.0/24" } },
      });
      assert.deepEqual(subnetsIn(file), ["10.56.0.0/24"]);
    } finally {
      await berth.stop();
      rmSync(dirname(berth.rootDir), { recursive: true, force: true });
      rmSync(cniDir, { recursive: true, force: true });
    }
  });

  test("a user's network config is left alone", async () => {
    const cniDir = mkdtempSync(join(tmpdir(), "berth-user-net-"));
    const user = JSON.stringify({
      cniVersion: "1.0.0",
      name: "users-own",
      plugins: [
        { type: "bridge", bridge: "userbr0", ipam: { type: "host-local", subnet: "10.44.0.0/24" } },
      ],
    });
    writeFileSync(join(cniDir, "10-user.conflist"), user);
    const berth = await startBerth({ args: ["--cni-conf-dir", cniDir] });
    try {
      await berth.client.runtime.updateRuntimeConfig({
        runtimeConfig: { networkConfig: { podCidr: "10.57.0.0/24" } },
      });
      assert.deepEqual(readdirSync(cniDir), ["10-user.conflist"]);
      assert.equal(readFileSync(join(cniDir, "10-user.conflist"), "utf8"), user);
    } finally {
      await berth.stop();
      rmSync(dirname(berth.rootDir), { recursive: true, force: true });
      rmSync(cniDir, { recursive: true, force: true });
    }
  });
});

/** A pod CIDR that fits berth0 as it is: the bridge plugin refuses a second IPv4 gateway. */
function berthBridgeCidr(): string {
  try {
    const [link] = JSON.parse(
      execFileSync("ip", ["-j", "-4", "addr", "show", "dev", BERTH_BRIDGE], { encoding: "utf8" }),
    ) as Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>;
    const address = link?.addr_info[0];
    if (address) {
      const cidr = parseCidr(`${address.local}/${address.prefixlen}`);
      if (cidr) return `${networkAddress(cidr)}/${cidr.prefix}`;
    }
  } catch {
    // No berth0 yet: the first pod's ADD makes it.
  }
  return DEFAULT_POD_CIDR;
}

function forwardPolicy(): string {
  return (
    /^-P FORWARD (\S+)/m.exec(
      execFileSync("iptables", ["-S", "FORWARD"], { encoding: "utf8" }),
    )?.[1] ?? ""
  );
}

/** The host-side interface index of a pod's eth0 veth (sysfs would show the host's eth0). */
function hostPeerIndex(pid: number): number {
  const [eth0] = JSON.parse(inNetns(pid, ["ip", "-j", "link", "show", "eth0"])) as Array<{
    link_index?: number;
  }>;
  return eth0?.link_index ?? -1;
}

/** Packets through berth's accept rule for pods leaving the bridge (iptables' counters). */
function acceptedFromPods(cidr: string): number {
  const out = execFileSync(
    "iptables",
    ["-w", "-t", "filter", "-L", chainNames(BERTH_BRIDGE).forward, "-v", "-x", "-n"],
    { encoding: "utf8" },
  );
  const line = out.split("\n").find((l) => l.includes(`${BERTH_BRIDGE} *`) && l.includes(cidr));
  return Number(line?.trim().split(/\s+/)[0] ?? Number.NaN);
}

/**
 * "Another host": a network namespace behind a veth of its own, on a /30 of TEST-NET-2. It has
 * no route to the pod subnet, so a pod's connection is answered only when it was masqueraded,
 * and it is reached only through the node's FORWARD chain.
 */
async function remoteHost(): Promise<{
  address: string;
  hostAddress: string;
  port: number;
  close(): void;
}> {
  const ns = `berth-fwd-${process.pid}`;
  const veth = `bfwd${process.pid % 100000}`;
  const base = (process.pid % 63) * 4;
  const hostAddress = `198.51.100.${base + 1}`;
  const address = `198.51.100.${base + 2}`;
  const run = (...args: string[]) => execFileSync("ip", args);
  run("netns", "add", ns);
  const close = () => {
    server?.kill("SIGKILL");
    try {
      run("link", "delete", veth);
    } catch {}
    try {
      run("netns", "delete", ns);
    } catch {}
  };
  let server: ChildProcess | undefined;
  try {
    run("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns);
    run("addr", "add", `${hostAddress}/30`, "dev", veth);
    run("link", "set", veth, "up");
    run("-n", ns, "addr", "add", `${address}/30`, "dev", "eth0");
    run("-n", ns, "link", "set", "eth0", "up");
    run("-n", ns, "link", "set", "lo", "up");
    const script = `require("http").createServer((q, s) => s.end(q.socket.remoteAddress)).listen(8080, "0.0.0.0", () => console.log("listening"))`;
    server = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("the remote host's server did not start")),
        10_000,
      );
      server?.stdout?.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("listening")) {
          clearTimeout(timer);
          resolve();
        }
      });
      server?.on("exit", (code) => reject(new Error(`the remote host's server exited (${code})`)));
    });
  } catch (err) {
    close();
    throw err;
  }
  return { address, hostAddress, port: 8080, close };
}

describe("pods on berth's default network", () => {
  test("reach another host through Docker's FORWARD DROP, masqueraded, with no rule per pod; bandwidth annotations shape them", async (t) => {
    if (forwardPolicy() !== "DROP") {
      t.skip(
        "the FORWARD policy is not DROP (Docker sets it): the test would not prove berth's rules",
      );
      return;
    }
    const cidr = berthBridgeCidr();
    const cniDir = mkdtempSync(join(tmpdir(), "berth-default-pods-"));
    const berth = await startBerth({ args: ["--cni-conf-dir", cniDir, "--pod-cidr", cidr] });
    const docker = testDocker();
    const remote = await remoteHost();
    const pods: string[] = [];
    const run = async (name: string, annotations: Record<string, string> = {}) => {
      const config = podConfig(name, { annotations });
      const { podSandboxId } = await berth.client.runtime.runPodSandbox({ config });
      pods.push(podSandboxId);
      const status = await berth.client.runtime.podSandboxStatus({ podSandboxId });
      const pid = (await docker.inspectContainer(podSandboxId)).State.Pid;
      return { id: podSandboxId, pid, ip: status.status?.network?.ip ?? "" };
    };
    try {
      const rulesBefore = execFileSync("iptables-save", { encoding: "utf8" }).split("\n").length;
      const pod = await run("fwd");
      const shaped = await run("shaped", {
        "kubernetes.io/ingress-bandwidth": "1M",
        "kubernetes.io/egress-bandwidth": "2M",
      });
      // The first pod's ADD installed berth's chains; a second pod adds nothing.
      const rulesAfter = execFileSync("iptables-save", { encoding: "utf8" });
      assert.ok(
        !rulesAfter.includes(pod.ip) && !rulesAfter.includes(shaped.ip),
        "no rule names a pod's address",
      );
      t.diagnostic(
        `iptables-save: ${rulesBefore} lines before, ${rulesAfter.split("\n").length} after two pods (others' tests share the node)`,
      );

      const accepted = acceptedFromPods(cidr);
      // Debian's busybox wget crashes here; Node is the pod's client.
      const fetch = `require("http").get("http://${remote.address}:${remote.port}/", { timeout: 5000 }, (r) => r.pipe(process.stdout)).on("timeout", () => process.exit(2))`;
      const answer = inNetns(pod.pid, [process.execPath, "-e", fetch]);
      assert.equal(
        answer,
        remote.hostAddress,
        "the remote host saw the node's address: masqueraded",
      );
      assert.ok(acceptedFromPods(cidr) > accepted, "through berth's ACCEPT rule in FORWARD");

      // The bandwidth plugin shapes the host end of the pod's veth (ingress) and an ifb
      // device fed from it (egress).
      const peer = hostPeerIndex(shaped.pid);
      const links = JSON.parse(
        execFileSync("ip", ["-j", "link", "show"], { encoding: "utf8" }),
      ) as Array<{ ifindex: number; ifname: string }>;
      const veth = links.find((link) => link.ifindex === peer)?.ifname ?? "";
      assert.notEqual(veth, "", "the shaped pod's host veth");
      const qdiscs = execFileSync("tc", ["qdisc", "show"], { encoding: "utf8" });
      assert.match(qdiscs, new RegExp(`qdisc tbf \\S+ dev ${veth} root .*rate 1Mbit`));
      assert.match(qdiscs, new RegExp(`qdisc ingress \\S+ dev ${veth} parent ffff:`));
      assert.match(qdiscs, /qdisc tbf \S+ dev bwp\S+ root .*rate 2Mbit/);
      // The unshaped pod's veth carries no tbf.
      const plainPeer = hostPeerIndex(pod.pid);
      const plain = links.find((link) => link.ifindex === plainPeer)?.ifname ?? "";
      assert.doesNotMatch(qdiscs, new RegExp(`qdisc tbf \\S+ dev ${plain} `));
    } finally {
      for (const podSandboxId of pods) {
        await berth.client.runtime.removePodSandbox({ podSandboxId }).catch(() => {});
      }
      remote.close();
      await berth.stop();
      // berth0 and berth's chains for it stay on a node, as bridges do; the test takes the
      // chains away unless another berth's pods are on berth0.
      const ports = execFileSync("ip", ["link", "show", "master", BERTH_BRIDGE], {
        encoding: "utf8",
      });
      if (ports.trim() === "") await removeForwardingRules(BERTH_BRIDGE);
      await docker.close();
      rmSync(dirname(berth.rootDir), { recursive: true, force: true });
      rmSync(cniDir, { recursive: true, force: true });
    }
  });
});
