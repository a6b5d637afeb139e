import type { DockerClient } from "./client.ts";

/**
 * The engine as berth's layers above src/docker/ see it: every typed endpoint of the client
 * and nothing of its transport. Handlers and domain modules depend on this (or a Pick of it),
 * so tests can put a fake engine in its place.
 */
export type DockerEngine = Omit<DockerClient, "close">;
