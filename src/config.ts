import { parseArgs } from "node:util";
import { DEFAULT_DOCKER_HOST } from "./docker/endpoint.ts";
import { parseBindAddress } from "./streaming/bind-address.ts";
import { parseDuration } from "./util/duration.ts";

export interface Config {
  /** Where berth serves CRI: unix:///path (default) or tcp://host:port. */
  listen: string;
  dockerHost: string;
  dockerTlsVerify: boolean;
  dockerCertPath: string | undefined;
  podInfraContainerImage: string;
  /** A pull with no progress for this long is cancelled. */
  imagePullProgressDeadlineMs: number;
  logLevel: string;
  /** berth's own state: checkpoints, runtime config. */
  rootDir: string;
  cniConfDir: string;
  cniBinDirs: string[];
  podCidr: string | undefined;
  /** Write berth's bridge network when the CNI config directory has no valid config. */
  defaultNetwork: boolean;
  streamingBindAddr: string;
  streamingTlsCertFile: string | undefined;
  streamingTlsKeyFile: string | undefined;
  /** Where /metrics and /healthz are served over HTTP; off when undefined. */
  metricsBindAddress: string | undefined;
}

export const DEFAULT_LISTEN = "unix:///run/berth/berth.sock";
export const DEFAULT_PAUSE_IMAGE = "registry.k8s.io/pause:3.10";

const USAGE = `berth: a Kubernetes CRI runtime for Docker Engine

Usage: berth [flags]

  --listen URL                        CRI endpoint, alias --container-runtime-endpoint (default ${DEFAULT_LISTEN}; tcp://HOST:PORT also taken)
  --docker-endpoint URL               Docker Engine (default $DOCKER_HOST or ${DEFAULT_DOCKER_HOST})
  --docker-tls-verify                 verify the engine's TLS certificate (default $DOCKER_TLS_VERIFY)
  --docker-cert-path DIR              ca.pem, cert.pem, key.pem for tcp:// (default $DOCKER_CERT_PATH)
  --pod-infra-container-image REF     pause image (default ${DEFAULT_PAUSE_IMAGE})
  --image-pull-progress-deadline DUR  cancel a pull with no progress for this long (default 1m)
  --root-directory DIR                berth's state (default /var/lib/berth)
  --cni-conf-dir DIR                  CNI network configs (default /etc/cni/net.d)
  --cni-bin-dir DIRS                  CNI plugins, comma-separated (default /opt/cni/bin,/usr/lib/cni)
  --pod-cidr CIDR                     pod subnet for the default CNI config until the kubelet sets one
  --no-default-network                never write berth's default CNI network (99-berth.conflist)
  --streaming-bind-addr ADDR          exec/attach/port-forward server (default 127.0.0.1:0)
  --streaming-tls-cert-file FILE      serve the streaming server over TLS with this certificate
  --streaming-tls-key-file FILE       ... and this key
  --metrics-bind-address ADDR         serve Prometheus /metrics and /healthz on HOST:PORT (default off)
  --log-level LEVEL                   trace, debug, info, warn, error (default info)
  -h, --help                          this text
`;

export class UsageError extends Error {}

export function usage(): string {
  return USAGE;
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values } = parsed;
  if (values.help) throw new UsageError("");
  const listen = values.listen ?? values["container-runtime-endpoint"] ?? DEFAULT_LISTEN;
  if (!/^(unix:\/\/\/|tcp:\/\/)/.test(listen)) {
    throw new UsageError(`--listen ${listen}: expected unix:///path or tcp://host:port`);
  }
  let imagePullProgressDeadlineMs: number;
  try {
    imagePullProgressDeadlineMs = parseDuration(values["image-pull-progress-deadline"] ?? "1m");
  } catch (err) {
    throw new UsageError(`--image-pull-progress-deadline: ${(err as Error).message}`);
  }
  const streamingBindAddr = values["streaming-bind-addr"] ?? "127.0.0.1:0";
  try {
    parseBindAddress(streamingBindAddr);
  } catch (err) {
    throw new UsageError(`--streaming-bind-addr: ${(err as Error).message}`);
  }
  if (
    (values["streaming-tls-cert-file"] === undefined) !==
    (values["streaming-tls-key-file"] === undefined)
  ) {
    throw new UsageError("--streaming-tls-cert-file and --streaming-tls-key-file go together");
  }
  const metricsBindAddress = values["metrics-bind-address"];
  if (metricsBindAddress !== undefined) {
    try {
      parseBindAddress(metricsBindAddress);
    } catch {
      throw new UsageError(
        `--metrics-bind-address ${metricsBindAddress}: expected HOST:PORT or [IPV6]:PORT`,
      );
    }
  }
  const logLevel = values["log-level"] ?? env.BERTH_LOG_LEVEL ?? "info";
  if (!["trace", "debug", "info", "warn", "error", "fatal", "silent"].includes(logLevel)) {
    throw new UsageError(`--log-level ${logLevel}: expected trace, debug, info, warn or error`);
  }
  return {
    listen,
    dockerHost: values["docker-endpoint"] ?? nonEmpty(env.DOCKER_HOST) ?? DEFAULT_DOCKER_HOST,
    dockerTlsVerify: values["docker-tls-verify"] ?? nonEmpty(env.DOCKER_TLS_VERIFY) !== undefined,
    dockerCertPath: values["docker-cert-path"] ?? nonEmpty(env.DOCKER_CERT_PATH),
    podInfraContainerImage: values["pod-infra-container-image"] ?? DEFAULT_PAUSE_IMAGE,
    imagePullProgressDeadlineMs,
    logLevel,
    rootDir: values["root-directory"] ?? "/var/lib/berth",
    cniConfDir: values["cni-conf-dir"] ?? "/etc/cni/net.d",
    cniBinDirs: (values["cni-bin-dir"] ?? "/opt/cni/bin,/usr/lib/cni").split(",").filter(Boolean),
    podCidr: values["pod-cidr"],
    defaultNetwork: values["default-network"] ?? true,
    streamingBindAddr,
    streamingTlsCertFile: values["streaming-tls-cert-file"],
    streamingTlsKeyFile: values["streaming-tls-key-file"],
    metricsBindAddress,
  };
}

function parseFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    allowNegative: true,
    options: {
      listen: { type: "string" },
      "container-runtime-endpoint": { type: "string" },
      "docker-endpoint": { type: "string" },
      "docker-tls-verify": { type: "boolean" },
      "docker-cert-path": { type: "string" },
      "pod-infra-container-image": { type: "string" },
      "image-pull-progress-deadline": { type: "string" },
      "root-directory": { type: "string" },
      "cni-conf-dir": { type: "string" },
      "cni-bin-dir": { type: "string" },
      "pod-cidr": { type: "string" },
      "default-network": { type: "boolean" },
      "streaming-bind-addr": { type: "string" },
      "streaming-tls-cert-file": { type: "string" },
      "streaming-tls-key-file": { type: "string" },
      "metrics-bind-address": { type: "string" },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
