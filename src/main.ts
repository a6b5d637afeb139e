import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { adoptCriDockerdPods } from "./adopt/adopt-cri-dockerd.ts";
import { criDockerdStillServes } from "./adopt/cri-dockerd-presence.ts";
import { findSubcommand, SUBCOMMANDS, subcommandContext } from "./cli/subcommands.ts";
import { usage } from "./config/render.ts";
import { buildInfoText, versionText } from "./config/version.ts";
import {
  type CommandLine,
  ConfigError,
  type LoadedConfig,
  loadConfig,
  parseCommandLine,
  UsageError,
} from "./config.ts";
import { DockerClient } from "./docker/client.ts";
import { parseDockerEndpoint } from "./docker/endpoint.ts";
import { messageOf } from "./errors.ts";
import { ContainerEvents } from "./events/container-events.ts";
import { ImageService, RuntimeService } from "./gen/runtime/v1/api_pb.js";
import { ImageLookup } from "./image/image-lookup.ts";
import { ImagePuller } from "./image/image-puller.ts";
import { createLogger } from "./log.ts";
import { BerthContainerLogs } from "./logs/container-logs.ts";
import { LogManager } from "./logs/log-manager.ts";
import { type MetricsServer, startMetricsServer } from "./metrics-server/metrics-server.ts";
import { CniPodNetwork } from "./network/cni-pod-network.ts";
import { ensureDefaultNetwork, prepareBerthNetwork } from "./network/default-network.ts";
import { NetnsPins } from "./network/netns-pin.ts";
import { imageServiceHandlers } from "./rpc/image/image-service.ts";
import { runtimeServiceHandlers } from "./rpc/runtime/runtime-service.ts";
import { verifySandboxNetworks } from "./rpc/runtime/sandbox-verify.ts";
import type { Services } from "./rpc/services.ts";
import { EngineFactsCache } from "./runtime/engine-facts.ts";
import { detectHostLimits, type HostLimits } from "./runtime/host-limits.ts";
import { RuntimeSettings } from "./runtime/runtime-settings.ts";
import { StoreStreamingLookup } from "./runtime/store-streaming-lookup.ts";
import { claimListenAddress, type ListenClaim, startGrpcServer } from "./server/grpc-server.ts";
import { joinRuntimeCgroup } from "./server/runtime-cgroup.ts";
import { ActivationError, takeActivatedSockets } from "./server/socket-activation.ts";
import { SystemdNotifier } from "./server/systemd-notify.ts";
import { SocketInUseError } from "./server/unix-socket.ts";
import { StatsCollector } from "./stats/stats-collector.ts";
import { dockerUpperDirs } from "./stats/writable-layer.ts";
import { DockerSync } from "./store/docker-sync.ts";
import { instanceOf } from "./store/labels.ts";
import { SandboxCheckpoints } from "./store/sandbox-checkpoint.ts";
import { StartFailures } from "./store/start-failures.ts";
import { StateStore } from "./store/state-store.ts";
import { StreamingServer } from "./streaming/streaming-server.ts";
import { KeyedMutex } from "./util/keyed-mutex.ts";

/** How long start-up waits for the first rebuild from the engine before serving anyway. */
const INITIAL_SYNC_TIMEOUT_MS = 15_000;

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let line: CommandLine;
  let loaded: LoadedConfig;
  try {
    line = parseCommandLine(argv);
    if (line.help) {
      process.stdout.write(usage(SUBCOMMANDS));
      return 0;
    }
    if (line.version) {
      process.stdout.write(versionText());
      return 0;
    }
    if (line.buildinfo) {
      process.stdout.write(buildInfoText());
      return 0;
    }
    if (line.words.length > 0) {
      const command = findSubcommand(line.words);
      if (!command) throw new UsageError(`unknown command: ${line.words.join(" ")}`);
      return await command.run(subcommandContext(line, env, process.stdout));
    }
    loaded = loadConfig(line, env);
  } catch (err) {
    const command = SUBCOMMANDS.find((c) => c.words.every((word, i) => argv[i] === word));
    return configFailure(err, command ? `berth ${command.words.join(" ")}` : "berth");
  }
  return serve(loaded);
}

/** A refused command line or configuration: the reason on stderr, a non-zero exit. */
function configFailure(err: unknown, program: string): number {
  if (err instanceof UsageError) {
    process.stderr.write(`${program}: ${err.message}\nRun 'berth --help' for the flags.\n`);
    return 2;
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`${program}: ${err.message}\n`);
    return 1;
  }
  throw err;
}

async function serve({ config, warnings, file }: LoadedConfig): Promise<number> {
  // Before anything spawns a child: systemd's variables are berth's alone.
  const activated = takeActivatedSockets(process.env);
  const log = createLogger(config.logLevel);
  log.info({ version: versionText().trim(), configFile: file ?? null }, "starting");
  for (const warning of warnings) log.warn(warning);
  const notifier = SystemdNotifier.fromEnvironment(log, process.env);
  if (config.runtimeCgroups) {
    try {
      const files = await joinRuntimeCgroup(config.runtimeCgroups);
      log.info({ cgroup: config.runtimeCgroups, files }, "moved into --runtime-cgroups");
    } catch (err) {
      log.error(messageOf(err));
      process.stderr.write(`berth: ${messageOf(err)}\n`);
      return 1;
    }
  }
  // cri-docker.service's ExecReload sends SIGHUP, which would end a Node process.
  process.on("SIGHUP", () =>
    log.warn("SIGHUP (systemctl reload): nothing is reloaded; restart berth to apply changes"),
  );
  // A promise nobody awaited must not take the node's runtime down: log it as the bug it is.
  process.on("unhandledRejection", (reason) => {
    log.error(
      { err: reason instanceof Error ? reason.stack : String(reason) },
      "unhandled rejection",
    );
  });
  if (config.adoptCriDockerd) {
    const serving = await criDockerdStillServes({
      dockerHost: config.dockerHost,
      criDockerdSocket: criDockerdSocketToCheck(config.criDockerdEndpoint, config.listen),
    });
    if (serving) {
      // Adopting beside a live cri-dockerd would have two runtimes manage one pod; serving
      // without adopting would have the kubelet start every pod a second time.
      const message = `--adopt-cri-dockerd refused: ${serving}`;
      log.error(message);
      process.stderr.write(`berth: ${message}\n`);
      return 1;
    }
  }
  let claim: ListenClaim;
  try {
    claim = await claimListenAddress(config.listen, activated);
  } catch (err) {
    if (!(err instanceof SocketInUseError || err instanceof ActivationError)) throw err;
    log.error(err.message);
    process.stderr.write(`berth: ${err.message}\n`);
    return 1;
  }
  await mkdir(config.rootDir, { recursive: true, mode: 0o700 });

  const endpoint = parseDockerEndpoint({
    host: config.dockerHost,
    tlsVerify: config.dockerTlsVerify,
    certPath: config.dockerCertPath,
  });
  const docker = new DockerClient(endpoint);
  const engine = new EngineFactsCache(docker);
  const settings = await RuntimeSettings.load(config.rootDir, config.podCidr);
  const checkpoints = new SandboxCheckpoints(config.rootDir, log);
  const store = new StateStore();
  const instance = instanceOf(config.rootDir);
  const startFailures = new StartFailures(config.rootDir);
  const sync = new DockerSync(docker, store, checkpoints, instance, log, startFailures);
  const podNetwork = new CniPodNetwork(
    config.cniConfDir,
    config.cniBinDirs,
    config.cniCacheDir ?? join(config.rootDir, "cni"),
    log,
    config.cniPluginTimeoutMs,
    (network) => prepareBerthNetwork(network),
  );
  // Log writers hold one follow stream per container: a client of their own, unbounded.
  const logsDocker = new DockerClient(endpoint, { connections: null });
  const logs = new BerthContainerLogs(new LogManager({ docker: logsDocker, logger: log }), log);

  const images = new ImageLookup(docker, [config.podInfraContainerImage]);
  const streamingServer = await StreamingServer.start({
    bindAddress: config.streamingBindAddr,
    tls:
      config.streamingTlsCertFile && config.streamingTlsKeyFile
        ? { certFile: config.streamingTlsCertFile, keyFile: config.streamingTlsKeyFile }
        : undefined,
    docker,
    log,
    idleTimeoutMs: config.streamIdleTimeoutMs,
    streamCreationTimeoutMs: config.streamCreationTimeoutMs,
    tokenTtlMs: config.streamUrlTtlMs,
    handshakeTimeoutMs: config.streamHandshakeTimeoutMs,
    maxSessions: config.maxStreamSessions,
  });
  const stats = new StatsCollector({
    store,
    log,
    upperDirOf: dockerUpperDirs(docker),
    dataRoot: () => engine.get().then((facts) => facts.info.DockerRootDir),
  });
  let hostLimits: Promise<HostLimits> | undefined;
  const services: Services = {
    config,
    instance,
    docker,
    log,
    settings,
    puller: new ImagePuller(docker, log, config.imagePullProgressDeadlineMs),
    images,
    engine,
    store,
    sync,
    startFailures,
    podNetwork,
    netns: new NetnsPins(config.rootDir),
    logs,
    events: new ContainerEvents(store, images, log),
    stats,
    streaming: {
      server: streamingServer,
      lookup: new StoreStreamingLookup(store),
      docker,
    },
    // Detected once the engine first answers; a failed detection is retried next time.
    hostLimits: () => {
      hostLimits ??= engine.get().then((facts) => detectHostLimits(facts, log));
      hostLimits.catch(() => {
        hostLimits = undefined;
      });
      return hostLimits;
    },
    sandboxLocks: new KeyedMutex(),
    containerLocks: new KeyedMutex(),
    imageLocks: new KeyedMutex(),
  };

  if (config.defaultNetwork) {
    const outcome = await ensureDefaultNetwork(config.cniConfDir, settings.podCidr).catch(
      (err: unknown) => {
        log.warn({ err: messageOf(err) }, "could not write berth's default CNI network");
        return undefined;
      },
    );
    if (outcome?.written) log.info({ file: outcome.file }, "wrote berth's default CNI network");
  }

  if (config.adoptCriDockerd) {
    try {
      const outcome = await adoptCriDockerdPods(
        {
          docker,
          sync,
          checkpoints,
          netns: services.netns,
          cniCacheDir: config.cniCacheDir ?? join(config.rootDir, "cni"),
          criDockerdRootDir: config.criDockerdRootDir,
          criDockerdCniCacheDir: config.criDockerdCniCacheDir,
          log,
        },
        AbortSignal.timeout(INITIAL_SYNC_TIMEOUT_MS * 4),
      );
      for (const { id, reason } of outcome.skipped) {
        log.warn({ sandbox: id, reason }, "cri-dockerd sandbox not adopted");
      }
      log.info({ adopted: outcome.adopted.length }, "adopted cri-dockerd's pods");
    } catch (err) {
      // Asked for explicitly: serving without the pods would have the kubelet recreate them.
      const message = `--adopt-cri-dockerd: cannot take over cri-dockerd's pods: ${messageOf(err)}`;
      log.error(message);
      process.stderr.write(`berth: ${message}\n`);
      await claim.release();
      return 1;
    }
  }

  // The state is rebuilt from the engine before serving, so the kubelet never sees an empty
  // node after a restart. An engine that is down does not stop berth from serving.
  try {
    const count = await sync.rebuild(AbortSignal.timeout(INITIAL_SYNC_TIMEOUT_MS));
    log.info(
      { records: count, api: await docker.apiVersion() },
      "state rebuilt from Docker Engine",
    );
    await logs.resume(store.containers());
  } catch (err) {
    log.warn({ err: messageOf(err) }, "Docker Engine not reachable yet; serving anyway");
  }

  const server = await startGrpcServer(
    claim,
    [
      { service: RuntimeService, handlers: runtimeServiceHandlers(services) },
      { service: ImageService, handlers: imageServiceHandlers(services) },
    ],
    log,
    { runtimeRequestTimeoutMs: config.runtimeRequestTimeoutMs },
  );
  let serving = true;
  let metrics: MetricsServer | undefined;
  if (config.metricsBindAddress !== undefined) {
    try {
      metrics = await startMetricsServer({
        bindAddress: config.metricsBindAddress,
        listen: config.listen,
        serving: () => serving,
        docker,
        store,
        log,
      });
    } catch (err) {
      // Refused at start, as a taken CRI socket is: the operator asked for metrics.
      const message = `--metrics-bind-address ${config.metricsBindAddress}: ${messageOf(err)}`;
      log.error(message);
      process.stderr.write(`berth: ${message}
`);
      await server.stop();
      return 1;
    }
  }
  await notifier?.ready(`serving CRI on ${config.listen}`);
  sync.start();
  stats.start();
  void verifySandboxNetworks(services, AbortSignal.timeout(120_000));

  return new Promise<number>((resolve) => {
    const shutdown = (signal: NodeJS.Signals) => {
      log.info({ signal }, "shutting down: draining in-flight calls");
      serving = false;
      // /healthz answers 503 while draining; the metrics server closes with the rest.
      const stoppingNoticed = notifier?.stopping();
      server
        .stop()
        .then(() => metrics?.stop())
        .then(() => sync.stop())
        .then(() => stats.stop())
        // Ending sessions kills their exec'd processes through the engine: before it closes.
        .then(() => streamingServer.stop())
        .then(() => logs.stopAll())
        .then(() => {
          podNetwork.close();
          return Promise.all([docker.close(), logsDocker.close()]);
        })
        .then(() => stoppingNoticed)
        .then(
          () => resolve(0),
          (err: unknown) => {
            log.error({ err }, "shutdown failed");
            resolve(1);
          },
        );
    };
    process.once("SIGTERM", shutdown);
    process.once("SIGINT", shutdown);
  });
}

/**
 * cri-dockerd's socket, unless berth itself serves there (a cri-docker.socket unit handing its
 * socket to berth, or berth told to listen on that path).
 */
function criDockerdSocketToCheck(endpoint: string, listen: string): string | undefined {
  if (!endpoint.startsWith("unix://") || listen === endpoint || listen.startsWith("fd://"))
    return undefined;
  return endpoint.slice("unix://".length);
}

// Exit explicitly once shut down: an idle keep-alive connection or timer must not keep a
// stopped berth alive.
main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(
      `berth: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
