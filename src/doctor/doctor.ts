import { readFile } from "node:fs/promises";
import type { Config } from "../config.ts";
import { DockerClient } from "../docker/client.ts";
import { parseDockerEndpoint } from "../docker/endpoint.ts";
import { messageOf } from "../errors.ts";
import { evaluateCapabilities, gatherCapabilityFacts } from "./capability-checks.ts";
import { type CheckResult, exitCodeOf, formatReport } from "./check.ts";
import {
  evaluateCniConfig,
  evaluateCniPlugins,
  gatherCniFacts,
  podForwardAcceptedBy,
} from "./cni-checks.ts";
import {
  evaluateCgroups,
  evaluateEngine,
  evaluatePauseImage,
  gatherEngineFacts,
  gatherPauseImageFacts,
} from "./engine-checks.ts";
import {
  evaluateBridgeNetfilter,
  evaluateForwardPolicy,
  evaluateInotifyInstances,
  evaluateIpForward,
  gatherKernelFacts,
} from "./kernel-checks.ts";
import {
  evaluateCriSocket,
  evaluateOtherRuntimes,
  gatherCriSocketFacts,
  gatherOtherRuntimeFacts,
} from "./socket-checks.ts";

/**
 * `berth doctor [flags]` (dispatched from src/cli/subcommands.ts with berth's configuration:
 * flags, config file, environment): prints the report, answers the exit status.
 */
export async function runDoctor(config: Config, out: NodeJS.WritableStream): Promise<number> {
  const results = await doctorChecks(config);
  out.write(formatReport(results));
  return exitCodeOf(results);
}

/** Every check, in the order printed. */
export async function doctorChecks(config: Config): Promise<CheckResult[]> {
  const [engine, cni, capabilities, criSocket, others] = await Promise.all([
    engineChecks(config),
    gatherCniFacts(config.cniConfDir, config.cniBinDirs, config.defaultNetwork),
    gatherCapabilityFacts(),
    gatherCriSocketFacts(config.listen),
    gatherOtherRuntimeFacts(config.listen),
  ]);
  const kernel = await gatherKernelFacts(podForwardAcceptedBy(cni));
  return [
    ...engine,
    evaluateCniConfig(cni),
    evaluateCniPlugins(cni),
    evaluateIpForward(kernel),
    evaluateBridgeNetfilter(kernel),
    evaluateForwardPolicy(kernel),
    evaluateInotifyInstances(kernel),
    evaluateCapabilities(capabilities),
    evaluateCriSocket(criSocket),
    ...evaluateOtherRuntimes(others),
  ];
}

async function engineChecks(config: Config): Promise<CheckResult[]> {
  let docker: DockerClient;
  try {
    docker = new DockerClient(
      parseDockerEndpoint({
        host: config.dockerHost,
        tlsVerify: config.dockerTlsVerify,
        certPath: config.dockerCertPath,
      }),
      { connections: 4 },
    );
  } catch (err) {
    return [
      {
        name: "engine",
        status: "fail",
        detail: messageOf(err),
        fix: "pass --docker-endpoint unix:///path or tcp://host:port (with --docker-cert-path for TLS)",
      },
    ];
  }
  try {
    const facts = await gatherEngineFacts(docker, config.dockerHost);
    if (!("version" in facts)) {
      const skipped = "skipped: the engine does not answer";
      return [
        evaluateEngine(facts),
        { name: "cgroups", status: "info", detail: skipped },
        { name: "pause-image", status: "info", detail: skipped },
      ];
    }
    const systemdIsInit =
      (await readFile("/proc/1/comm", "utf8").catch(() => "")).trim() === "systemd";
    return [
      evaluateEngine(facts),
      evaluateCgroups(facts, systemdIsInit),
      evaluatePauseImage(await gatherPauseImageFacts(docker, config.podInfraContainerImage)),
    ];
  } finally {
    await docker.close();
  }
}
