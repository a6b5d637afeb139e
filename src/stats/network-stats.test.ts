import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultInterfaceOf, parseNetDev } from "./network-stats.ts";

const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 193428206   53348    0    0    0     0          0         0 193428206   53348    0    0    0     0       0          0
  eth0: 857748475   20400    1    2    0     0          0         0  1395471   13596    3    4    0     0       0          0
net1:12345 10 0 0 0 0 0 0 678 9 0 0 0 0 0 0
`;

test("parses each interface but loopback", () => {
  const interfaces = parseNetDev(NET_DEV);
  assert.deepEqual(
    interfaces.map((i) => i.name),
    ["eth0", "net1"],
  );
  assert.deepEqual(interfaces[0], {
    name: "eth0",
    rxBytes: 857748475n,
    rxPackets: 20400n,
    rxErrors: 1n,
    rxDropped: 2n,
    txBytes: 1395471n,
    txPackets: 13596n,
    txErrors: 3n,
    txDropped: 4n,
  });
  // Large counters leave no space after the colon.
  assert.equal(interfaces[1]?.rxBytes, 12345n);
  assert.equal(interfaces[1]?.txBytes, 678n);
});

test("the default interface is eth0, else the first", () => {
  const interfaces = parseNetDev(NET_DEV);
  assert.equal(defaultInterfaceOf(interfaces)?.name, "eth0");
  assert.equal(defaultInterfaceOf(interfaces.slice(1))?.name, "net1");
  assert.equal(defaultInterfaceOf([]), undefined);
});

test("a namespace with only loopback has no interfaces", () => {
  assert.deepEqual(parseNetDev(NET_DEV.split("\n").slice(0, 3).join("\n")), []);
});
