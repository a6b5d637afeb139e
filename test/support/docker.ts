import { DockerClient } from "../../src/docker/client.ts";
import { parseDockerEndpoint } from "../../src/docker/endpoint.ts";

/** A Docker client for tests to look behind berth's back (same module, separate instance). */
export function testDocker(): DockerClient {
  return new DockerClient(
    parseDockerEndpoint({
      host: process.env.DOCKER_HOST || "unix:///var/run/docker.sock",
      tlsVerify: false,
      certPath: undefined,
    }),
  );
}
