import { DockerClient } from "../../src/docker/client.ts";
import { parseDockerEndpoint } from "../../src/docker/endpoint.ts";
import { DOCKER_HOST } from "./engine.ts";

/** A Docker client for tests to look behind berth's back (same module, separate instance). */
export function testDocker(): DockerClient {
  return new DockerClient(
    parseDockerEndpoint({
      host: DOCKER_HOST,
      tlsVerify: false,
      certPath: undefined,
    }),
  );
}
