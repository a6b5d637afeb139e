import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  criDockerdChecksum,
  fnv32a,
  formatCriDockerdCheckpoint,
  parseCriDockerdCheckpoint,
  spewCheckpointData,
} from "./cri-dockerd-checkpoint.ts";

describe("cri-dockerd's checkpoint checksum", () => {
  test("FNV-32a as Go's hash/fnv computes it", () => {
    // The FNV reference values: offset basis for "", and "a".
    assert.equal(fnv32a(""), 0x811c9dc5);
    assert.equal(fnv32a("a"), 0xe40c292c);
    assert.equal(fnv32a("foobar"), 0xbf9cf968);
  });

  test("go-spew's %#v of the decoded data: nil slices and pointers, types, no addresses", () => {
    assert.equal(
      spewCheckpointData({}),
      "(core.CheckpointData){PortMappings:([]*config.PortMapping)<nil> HostNetwork:(bool)false}",
    );
    assert.equal(
      spewCheckpointData({
        port_mappings: [
          { protocol: "tcp", container_port: 80, host_port: 8080 },
          { host_ip: "::1" },
        ],
        host_network: true,
      }),
      "(core.CheckpointData){PortMappings:([]*config.PortMapping)[" +
        "<*>{Protocol:(*config.Protocol)tcp ContainerPort:(*int32)80 HostPort:(*int32)8080 HostIP:(string)} " +
        "<*>{Protocol:(*config.Protocol)<nil> ContainerPort:(*int32)<nil> HostPort:(*int32)<nil> HostIP:(string)::1}" +
        "] HostNetwork:(bool)true}",
    );
  });
});

describe("parseCriDockerdCheckpoint", () => {
  const checkpoint = {
    name: "web",
    namespace: "default",
    portMappings: [{ protocol: "tcp", containerPort: 80, hostPort: 8080, hostIP: "" }],
    hostNetwork: false,
  };

  test("reads what cri-dockerd writes", () => {
    const text = formatCriDockerdCheckpoint(checkpoint);
    const file = JSON.parse(text);
    assert.equal(file.version, "v1");
    assert.deepEqual(file.data, {
      port_mappings: [{ protocol: "tcp", container_port: 80, host_port: 8080 }],
    });
    assert.equal(file.checksum, criDockerdChecksum(file.data));
    assert.deepEqual(parseCriDockerdCheckpoint(text), checkpoint);
  });

  test("host network, no ports", () => {
    const text = formatCriDockerdCheckpoint({ ...checkpoint, portMappings: [], hostNetwork: true });
    assert.deepEqual(JSON.parse(text).data, { host_network: true });
    assert.deepEqual(parseCriDockerdCheckpoint(text), {
      ...checkpoint,
      portMappings: [],
      hostNetwork: true,
    });
  });

  const good = JSON.parse(formatCriDockerdCheckpoint(checkpoint));
  const bad: Array<[string, string, RegExp]> = [
    ["not JSON", "{", /not JSON/],
    ["an array", "[]", /unknown version/],
    ["null", "null", /not a JSON object/],
    ["another version", JSON.stringify({ ...good, version: "v2" }), /unknown version "v2"/],
    ["no name", JSON.stringify({ ...good, name: 1 }), /no pod name/],
    ["no data", JSON.stringify({ ...good, data: undefined }), /no data/],
    ["data a list", JSON.stringify({ ...good, data: [] }), /no data/],
    [
      "host_network a string",
      JSON.stringify({ ...good, data: { host_network: "yes" } }),
      /host_network is not a bool/,
    ],
    [
      "port_mappings an object",
      JSON.stringify({ ...good, data: { port_mappings: {} } }),
      /not a list/,
    ],
    [
      "a port a string",
      JSON.stringify({ ...good, data: { port_mappings: [{ host_port: "80" }] } }),
      /host_port is not a number/,
    ],
    [
      "a port mapping a number",
      JSON.stringify({ ...good, data: { port_mappings: [1] } }),
      /not an object/,
    ],
    ["no checksum", JSON.stringify({ ...good, checksum: undefined }), /no checksum/],
    ["a wrong checksum", JSON.stringify({ ...good, checksum: good.checksum + 1 }), /mismatch/],
    [
      "data changed after the checksum",
      JSON.stringify({ ...good, data: { ...good.data, host_network: true } }),
      /mismatch/,
    ],
  ];
  for (const [name, text, want] of bad) {
    test(`refuses ${name}`, () => {
      const result = parseCriDockerdCheckpoint(text);
      assert.equal(typeof result, "string");
      assert.match(result as string, want);
    });
  }
});
