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
