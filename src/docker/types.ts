/**
 * The parts of Docker Engine API answers berth reads (API 1.41 and later). Fields that only
 * newer engines send are optional.
 */

export interface EngineVersion {
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  Os: string;
  Arch: string;
  KernelVersion?: string;
}

export interface EngineInfo {
  ID?: string;
  Name?: string;
  DockerRootDir: string;
  CgroupDriver: string;
  CgroupVersion?: string;
  Driver: string;
  KernelVersion: string;
  OperatingSystem?: string;
  ServerVersion: string;
  SecurityOptions?: string[];
  Runtimes?: Record<string, unknown>;
  DefaultRuntime?: string;
}

export interface ImageSummary {
  Id: string;
  ParentId?: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: number;
  Size: number;
  Labels?: Record<string, string> | null;
}

export interface ImageConfig {
  User?: string;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  Volumes?: Record<string, object> | null;
  ExposedPorts?: Record<string, object> | null;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: string;
  Size: number;
  Architecture?: string;
  Os?: string;
  Author?: string;
  Config: ImageConfig | null;
  RootFS?: { Type: string; Layers?: string[] };
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  State: string;
  Labels: Record<string, string> | null;
  Created: number;
}

/** One line of the progress stream POST /images/create answers with. */
export interface PullProgress {
  status?: string;
  id?: string;
  progress?: string;
  /** Bytes of one layer so far, while it downloads or extracts. */
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { code?: number; message?: string };
}

/** The auth header payload (X-Registry-Auth), base64url-encoded JSON. */
export interface RegistryAuth {
  username?: string;
  password?: string;
  auth?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

export interface Mount {
  Type: "bind" | "volume" | "tmpfs" | "npipe" | "image";
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: {
    Propagation?: string;
    NonRecursive?: boolean;
    CreateMountpoint?: boolean;
    ReadOnlyNonRecursive?: boolean;
    ReadOnlyForceRecursive?: boolean;
  };
  ImageOptions?: { Subpath?: string };
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

export interface HostConfig {
  Binds?: string[];
  Mounts?: Mount[];
  NetworkMode?: string;
  IpcMode?: string;
  PidMode?: string;
  UTSMode?: string;
  Privileged?: boolean;
  ReadonlyRootfs?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  SecurityOpt?: string[];
  GroupAdd?: string[];
  DnsSearch?: string[];
  Dns?: string[];
  DnsOptions?: string[];
  ExtraHosts?: string[];
  PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }>>;
  Sysctls?: Record<string, string>;
  CgroupParent?: string;
  OomScoreAdj?: number;
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  CpuShares?: number;
  CpuQuota?: number;
  CpuPeriod?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  Devices?: DeviceMapping[];
  DeviceCgroupRules?: string[];
  MaskedPaths?: string[];
  ReadonlyPaths?: string[];
  ShmSize?: number;
  Runtime?: string;
  Init?: boolean | null;
  RestartPolicy?: { Name: string; MaximumRetryCount?: number };
  LogConfig?: { Type: string; Config?: Record<string, string> };
  Tmpfs?: Record<string, string>;
  Ulimits?: Array<{ Name: string; Soft: number; Hard: number }>;
  AutoRemove?: boolean;
}

/** The body of POST /containers/create. */
export interface ContainerCreateBody {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[];
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  Image: string;
  Labels?: Record<string, string>;
  WorkingDir?: string;
  StopSignal?: string;
  StopTimeout?: number;
  ExposedPorts?: Record<string, object>;
  NetworkDisabled?: boolean;
  HostConfig?: HostConfig;
  NetworkingConfig?: { EndpointsConfig?: Record<string, object> };
}

export interface ContainerState {
  Status: "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
}

export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  MountLabel?: string;
  ProcessLabel?: string;
  AppArmorProfile?: string;
  HostConfig: HostConfig;
  /** The container's execs the engine still knows (running or exited, not yet reaped). */
  ExecIDs?: string[] | null;
  Config: ContainerCreateBody & { Labels: Record<string, string> | null };
  Mounts: Array<{
    Type: string;
    Source: string;
    Destination: string;
    Mode: string;
    RW: boolean;
    Propagation: string;
  }>;
  NetworkSettings: {
    SandboxKey: string;
    IPAddress?: string;
    Networks?: Record<string, { IPAddress?: string; GlobalIPv6Address?: string }>;
  };
  SizeRw?: number;
}

export interface ExecCreateBody {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Tty?: boolean;
  Cmd: string[];
  Env?: string[];
  User?: string;
  WorkingDir?: string;
  Privileged?: boolean;
  ConsoleSize?: [number, number];
}

export interface ExecInspect {
  ID: string;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  ContainerID: string;
  ProcessConfig?: { entrypoint: string; arguments: string[]; tty: boolean };
}

/** One message of GET /events. */
export interface EngineEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
  time: number;
  timeNano: number;
  status?: string;
  id?: string;
  from?: string;
}
