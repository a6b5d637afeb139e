import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  DEFAULT_DOCKER_HOST,
  type DockerEndpoint,
  type EndpointOptions,
  parseDockerEndpoint,
} from "./endpoint.ts";

const CERTS = "/etc/docker/certs";
const tlsFiles = {
  caFile: `${CERTS}/ca.pem`,
  certFile: `${CERTS}/cert.pem`,
  keyFile: `${CERTS}/key.pem`,
};
const noFiles = { caFile: undefined, certFile: undefined, keyFile: undefined };

describe("parseDockerEndpoint", () => {
  const cases: Array<{ name: string; options: EndpointOptions; want: DockerEndpoint }> = [
    {
      name: "the default unix socket",
      options: { host: DEFAULT_DOCKER_HOST, tlsVerify: false, certPath: undefined },
      want: { kind: "unix", socketPath: "/var/run/docker.sock" },
    },
    {
      name: "another unix socket",
      options: { host: "unix:///run/user/1000/docker.sock", tlsVerify: false, certPath: undefined },
      want: { kind: "unix", socketPath: "/run/user/1000/docker.sock" },
    },
    {
      name: "unix socket ignores TLS settings",
      options: { host: "unix:///var/run/docker.sock", tlsVerify: true, certPath: CERTS },
      want: { kind: "unix", socketPath: "/var/run/docker.sock" },
    },
    {
      name: "tcp without port defaults to 2375",
      options: { host: "tcp://docker.example", tlsVerify: false, certPath: undefined },
      want: { kind: "tcp", host: "docker.example", port: 2375, tls: undefined },
    },
    {
      name: "tcp with an explicit port",
      options: { host: "tcp://10.0.0.5:12345", tlsVerify: false, certPath: undefined },
      want: { kind: "tcp", host: "10.0.0.5", port: 12345, tls: undefined },
    },
    {
      name: "tcp with tlsVerify defaults to 2376 and verifies",
      options: { host: "tcp://docker.example", tlsVerify: true, certPath: undefined },
      want: {
        kind: "tcp",
        host: "docker.example",
        port: 2376,
        tls: { ...noFiles, verify: true },
      },
    },
    {
      name: "tcp with a cert path uses TLS with its files, unverified without tlsVerify",
      options: { host: "tcp://docker.example", tlsVerify: false, certPath: CERTS },
      want: {
        kind: "tcp",
        host: "docker.example",
        port: 2376,
        tls: { ...tlsFiles, verify: false },
      },
    },
    {
      name: "tcp with cert path and tlsVerify",
      options: { host: "tcp://docker.example:2376", tlsVerify: true, certPath: CERTS },
      want: { kind: "tcp", host: "docker.example", port: 2376, tls: { ...tlsFiles, verify: true } },
    },
    {
      name: "an explicit port wins over the TLS default",
      options: { host: "tcp://docker.example:3000", tlsVerify: true, certPath: undefined },
      want: { kind: "tcp", host: "docker.example", port: 3000, tls: { ...noFiles, verify: true } },
    },
    {
      name: "https:// means TLS",
      options: { host: "https://docker.example", tlsVerify: false, certPath: undefined },
      want: { kind: "tcp", host: "docker.example", port: 2376, tls: { ...noFiles, verify: false } },
    },
    {
      name: "http:// is plain tcp",
      options: { host: "http://docker.example:8080", tlsVerify: false, certPath: undefined },
      want: { kind: "tcp", host: "docker.example", port: 8080, tls: undefined },
    },
  ];
  for (const { name, options, want } of cases) {
    test(name, () => {
      assert.deepEqual(parseDockerEndpoint(options), want);
    });
  }

  const refused: Array<{ name: string; host: string; message: RegExp }> = [
    { name: "relative unix path", host: "unix://var/run/docker.sock", message: /must be absolute/ },
    { name: "empty unix path", host: "unix://", message: /must be absolute/ },
    { name: "npipe scheme", host: "npipe:////./pipe/docker_engine", message: /expected unix/ },
    { name: "ssh scheme", host: "ssh://user@host", message: /expected unix/ },
    { name: "no scheme", host: "/var/run/docker.sock", message: /expected unix/ },
    { name: "fd scheme", host: "fd://", message: /expected unix/ },
  ];
  for (const { name, host, message } of refused) {
    test(`refuses ${name}`, () => {
      assert.throws(
        () => parseDockerEndpoint({ host, tlsVerify: false, certPath: undefined }),
        message,
      );
    });
  }

  const wellKnownPorts: Array<{ host: string; port: number }> = [
    { host: "tcp://docker.example:80", port: 80 },
    { host: "http://docker.example:80", port: 80 },
    { host: "https://docker.example:443", port: 443 },
  ];
  for (const { host, port } of wellKnownPorts) {
    test(`keeps the explicit port of ${host}`, () => {
      const endpoint = parseDockerEndpoint({ host, tlsVerify: false, certPath: undefined });
      assert.equal(endpoint.kind === "tcp" ? endpoint.port : undefined, port);
    });
  }
});
