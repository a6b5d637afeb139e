import type { Logger } from "pino";
import type { Config } from "./config.ts";
import type { DockerClient } from "./docker/client.ts";
import type { ImageLookup } from "./image/image-lookup.ts";
import type { ImagePuller } from "./image/image-puller.ts";
import type { EngineFactsCache } from "./runtime/engine-facts.ts";
import type { RuntimeSettings } from "./runtime/runtime-settings.ts";

/** What handlers share: built once at start by main.ts, passed to every handler factory. */
export interface Services {
  config: Config;
  docker: DockerClient;
  log: Logger;
  settings: RuntimeSettings;
  puller: ImagePuller;
  images: ImageLookup;
  engine: EngineFactsCache;
}
