import { mkdir } from "node:fs/promises";
import { type Config, parseConfig, UsageError, usage } from "./config.ts";
import { DockerClient } from "./docker/client.ts";
import { parseDockerEndpoint } from "./docker/endpoint.ts";
import { ImageService, RuntimeService } from "./gen/runtime/v1/api_pb.js";
import { ImageLookup } from "./image/image-lookup.ts";
import { ImagePuller } from "./image/image-puller.ts";
import { imageServiceHandlers } from "./image/image-service.ts";
import { createLogger } from "./log.ts";
import { EngineFactsCache } from "./runtime/engine-facts.ts";
import { runtimeServiceHandlers } from "./runtime/runtime-service.ts";
import { RuntimeSettings } from "./runtime/runtime-settings.ts";
import { startGrpcServer } from "./server/grpc-server.ts";
import { SocketInUseError } from "./server/unix-socket.ts";
import type { Services } from "./services.ts";

async function main(): Promise<number> {
  let config: Config;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof UsageError) {
      if (err.message !== "") process.stderr.write(`berth: ${err.message}\n\n`);
      process.stderr.write(usage());
      return err.message === "" ? 0 : 2;
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  await mkdir(config.rootDir, { recursive: true, mode: 0o700 });

  const docker = new DockerClient(
    parseDockerEndpoint({
      host: config.dockerHost,
      tlsVerify: config.dockerTlsVerify,
      certPath: config.dockerCertPath,
    }),
  );
  const services: Services = {
    config,
    docker,
    log,
    settings: await RuntimeSettings.load(config.rootDir, config.podCidr),
    puller: new ImagePuller(docker, log, config.imagePullProgressDeadlineMs),
    images: new ImageLookup(docker, [config.podInfraContainerImage]),
    engine: new EngineFactsCache(docker),
  };

  let server: Awaited<ReturnType<typeof startGrpcServer>>;
  try {
    server = await startGrpcServer(
      config.listen,
      [
        { service: RuntimeService, handlers: runtimeServiceHandlers(services) },
        { service: ImageService, handlers: imageServiceHandlers(services) },
      ],
      log,
    );
  } catch (err) {
    if (err instanceof SocketInUseError) {
      log.error(err.message);
      process.stderr.write(`berth: ${err.message}\n`);
      return 1;
    }
    throw err;
  }

  // The engine may be down at start: berth serves anyway and reports RuntimeReady=false.
  docker.apiVersion().then(
    (api) => log.info({ dockerHost: config.dockerHost, api }, "Docker Engine API negotiated"),
    (err: unknown) => log.warn({ err: String(err) }, "Docker Engine not reachable yet"),
  );

  return new Promise<number>((resolve) => {
    const shutdown = (signal: NodeJS.Signals) => {
      log.info({ signal }, "shutting down: draining in-flight calls");
      server
        .stop()
        .then(() => docker.close())
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

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `berth: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
