import type { RegistryAuth } from "../docker/types.ts";
import { invalidArgument } from "../errors.ts";
import type { AuthConfig } from "../gen/runtime/v1/api_pb.js";

/**
 * The engine's X-Registry-Auth payload for a CRI AuthConfig. `auth` is base64("user:pass") as
 * in a docker config.json; it is split here so the engine gets explicit credentials however
 * the kubelet delivered them. Undefined when the request carries no credentials.
 */
export function registryAuthOf(auth: AuthConfig | undefined): RegistryAuth | undefined {
  if (!auth) return undefined;
  let { username, password } = auth;
  if (auth.auth !== "" && username === "" && password === "") {
    const decoded = Buffer.from(auth.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw invalidArgument('auth.auth must be base64 of "username:password"');
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  const result: RegistryAuth = {};
  if (username !== "") result.username = username;
  if (password !== "") result.password = password;
  if (auth.serverAddress !== "") result.serveraddress = auth.serverAddress;
  if (auth.identityToken !== "") result.identitytoken = auth.identityToken;
  if (auth.registryToken !== "") result.registrytoken = auth.registryToken;
  return Object.keys(result).length === 0 ? undefined : result;
}
