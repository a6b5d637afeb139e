import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const REPO = join(import.meta.dirname, "..", "..");

/** The engine the tests run against: DOCKER_HOST, as berth and the docker CLI read it. */
export const DOCKER_HOST = process.env.DOCKER_HOST || "unix:///var/run/docker.sock";

/**
 * The engines berth's own scripts start, by socket, with their pid files (scripts/lib.sh):
 * the system's dockerd (setup-host.sh) and the suite's Docker 28 (setup-docker28.sh).
 */
const STARTED_BY_SETUP: Record<string, { pidFile: string; program: string }> = {
  "unix:///var/run/docker.sock": { pidFile: "/var/run/docker.pid", program: "dockerd" },
  "unix:///run/docker.sock": { pidFile: "/var/run/docker.pid", program: "dockerd" },
  "unix:///var/run/docker28.sock": {
    pidFile: "/var/run/docker28.pid",
    program: "/var/lib/berth-test/docker28/root/usr/sbin/dockerd",
  },
  "unix:///run/docker28.sock": {
    pidFile: "/var/run/docker28.pid",
    program: "/var/lib/berth-test/docker28/root/usr/sbin/dockerd",
  },
};

/**
 * A developer's private engine that tests may stop and start, named by its pid file and the
 * shell command that starts it again: so restart tests run without touching an engine others
 * share. CI sets neither and stops only the engines its setup started.
 */
const PRIVATE_ENGINE = process.env.BERTH_TEST_ENGINE_PIDFILE
  ? {
      pidFile: process.env.BERTH_TEST_ENGINE_PIDFILE,
      program: "dockerd",
      start: process.env.BERTH_TEST_ENGINE_START ?? "",
    }
  : undefined;

/**
 * The pid of the dockerd behind DOCKER_HOST when this machine's setup (or the developer, see
 * PRIVATE_ENGINE) started it, so a test may stop it and have it started again; undefined for
 * any other engine.
 */
export function setupEnginePid(): number | undefined {
  const engine = PRIVATE_ENGINE ?? STARTED_BY_SETUP[DOCKER_HOST];
  if (!engine) return undefined;
  try {
    const pid = Number(readFileSync(engine.pidFile, "utf8").trim());
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "";
    return argv0 === engine.program || argv0.endsWith(`/${engine.program}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the engine behind DOCKER_HOST again (setup-host.sh starts the one it names). */
export function startSetupEngine(): void {
  if (PRIVATE_ENGINE) {
    execFileSync("bash", ["-c", PRIVATE_ENGINE.start], { stdio: "ignore" });
    return;
  }
  execFileSync("bash", [join(REPO, "scripts/setup-host.sh")], { stdio: "ignore" });
}
