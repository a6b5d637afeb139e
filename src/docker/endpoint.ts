/**
 * Where the Docker Engine is and how to reach it: the same rules as the docker CLI's
 * DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.
 */
export type DockerEndpoint =
  | { kind: "unix"; socketPath: string }
  | { kind: "tcp"; host: string; port: number; tls: DockerTls | undefined };

export interface DockerTls {
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
  verify: boolean;
}

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

export interface EndpointOptions {
  host: string;
  tlsVerify: boolean;
  certPath: string | undefined;
}

export function parseDockerEndpoint(options: EndpointOptions): DockerEndpoint {
  const { host } = options;
  if (host.startsWith("unix://")) {
    const socketPath = host.slice("unix://".length);
    if (!socketPath.startsWith("/")) {
      throw new Error(`Docker host ${host}: a unix socket path must be absolute`);
    }
    return { kind: "unix", socketPath };
  }
  if (host.startsWith("tcp://") || host.startsWith("https://") || host.startsWith("http://")) {
    // Parsed by hand: URL drops a port equal to the scheme's default (tcp://h:80 → no port).
    const authority = /^[a-z]+:\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(host);
    const hostname = authority?.[1];
    const port = authority?.[2] === undefined ? undefined : Number(authority[2]);
    if (!hostname || (port !== undefined && (port < 1 || port > 65535))) {
      throw new Error(`Docker host ${host}: expected tcp://host:port with a port from 1 to 65535`);
    }
    const useTls =
      host.startsWith("https://") || options.tlsVerify || options.certPath !== undefined;
    const cert = options.certPath;
    return {
      kind: "tcp",
      host: hostname.replace(/^\[(.*)\]$/, "$1"),
      port: port ?? (useTls ? 2376 : 2375),
      tls: useTls
        ? {
            caFile: cert ? `${cert}/ca.pem` : undefined,
            certFile: cert ? `${cert}/cert.pem` : undefined,
            keyFile: cert ? `${cert}/key.pem` : undefined,
            verify: options.tlsVerify,
          }
        : undefined,
    };
  }
  throw new Error(`Docker host ${host}: expected unix:///path or tcp://host:port`);
}
