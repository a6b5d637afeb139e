import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Cidr, parseCidr } from "./cidr.ts";

describe("parseCidr", () => {
  const valid: Array<{ text: string; want: Cidr }> = [
    { text: "10.88.0.0/16", want: { address: "10.88.0.0", prefix: 16, family: 4 } },
    { text: "0.0.0.0/0", want: { address: "0.0.0.0", prefix: 0, family: 4 } },
    { text: "192.168.1.7/32", want: { address: "192.168.1.7", prefix: 32, family: 4 } },
    { text: "fd00::/64", want: { address: "fd00::", prefix: 64, family: 6 } },
    { text: "::/0", want: { address: "::", prefix: 0, family: 6 } },
    { text: "2001:db8::1/128", want: { address: "2001:db8::1", prefix: 128, family: 6 } },
  ];
  for (const { text, want } of valid) {
    test(`${text} parses`, () => {
      assert.deepEqual(parseCidr(text), want);
    });
  }

  const invalid = [
    "",
    "10.88.0.0",
    "10.88.0.0/",
    "/16",
    "10.88.0.0/33",
    "fd00::/129",
    "10.88.0.0/-1",
    "10.88.0.0/1000",
    "10.88.0.0/16/8",
    "10.88.0.0/a",
    "10.88.0.0/ 16",
    "10.88.0/16",
    "256.0.0.0/8",
    "example.com/24",
    "fd00::g/64",
  ];
  for (const text of invalid) {
    test(`${JSON.stringify(text)} → undefined`, () => {
      assert.equal(parseCidr(text), undefined);
    });
  }
});
