import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { engineRoute } from "./engine-route.ts";

const ID = "4f2d9c3a1b0e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c";

describe("engineRoute", () => {
  const cases: Array<[method: string, path: string, route: string]> = [
    ["GET", "/_ping", "GET /_ping"],
    ["GET", "/v1.41/version", "GET /version"],
    ["GET", "/v1.41/info", "GET /info"],
    ["GET", `/v1.41/events?since=1.5&filters=${encodeURIComponent("{}")}`, "GET /events"],
    ["GET", "/v1.41/containers/json?all=true", "GET /containers/json"],
    ["POST", "/v1.41/containers/create?name=k8s_POD_x", "POST /containers/create"],
    ["GET", `/v1.41/containers/${ID}/json`, "GET /containers/{id}/json"],
    ["POST", `/v1.41/containers/${ID}/start`, "POST /containers/{id}/start"],
    ["POST", `/v1.41/containers/${ID}/stop?t=10`, "POST /containers/{id}/stop"],
    ["GET", `/v1.41/containers/${ID}/logs?follow=true`, "GET /containers/{id}/logs"],
    ["DELETE", `/v1.41/containers/${ID}?force=true&v=true`, "DELETE /containers/{id}"],
    ["POST", `/v1.41/containers/${ID}/exec`, "POST /containers/{id}/exec"],
    ["POST", `/v1.41/exec/${ID}/start`, "POST /exec/{id}/start"],
    ["GET", `/v1.41/exec/${ID}/json`, "GET /exec/{id}/json"],
    // A container named "json" is still an id when followed by an action.
    ["GET", "/v1.41/containers/json/json", "GET /containers/{id}/json"],
    ["GET", "/v1.41/images/json", "GET /images/json"],
    ["POST", "/v1.41/images/create?fromImage=busybox&tag=1", "POST /images/create"],
    [
      "GET",
      `/v1.41/images/${encodeURIComponent("registry.k8s.io/pause:3.10")}/json`,
      "GET /images/{name}/json",
    ],
    // An unencoded reference spans segments: still one name.
    ["GET", "/v1.41/images/127.0.0.1:5000/team/app:1/json", "GET /images/{name}/json"],
    ["DELETE", `/v1.41/images/sha256:${ID}?force=false`, "DELETE /images/{name}"],
    ["DELETE", "/v1.41/images/127.0.0.1:5000/team/app:1", "DELETE /images/{name}"],
    ["GET", "/v1.41/distribution/busybox:1/json", "GET /distribution/{name}/json"],
    ["get", "/v1.41/networks", "GET /networks"],
    // Unknown routes keep their words and hide anything else.
    ["GET", `/v1.51/someday/${ID}/thing`, "GET /someday/{param}/thing"],
  ];
  for (const [method, path, route] of cases) {
    test(`${method} ${path.slice(0, 60)} → ${route}`, () => {
      assert.equal(engineRoute(method, path), route);
    });
  }

  test("no id ever reaches the label", () => {
    for (const [method, path] of cases)
      assert.doesNotMatch(engineRoute(method, path), /[0-9a-f]{12}/);
  });
});
