import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DockerClient } from "./client.ts";
import { parseDockerEndpoint } from "./endpoint.ts";

/**
 * An engine on a unix socket that, like Docker 29, refuses every versioned request below its
 * minimum API version with Docker's own 400 message, and records the paths it was asked.
 */
async function fakeEngine(socket: string, api: { max: string; min: string }) {
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? "";
    paths.push(path);
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { "content-type": "application/json", "api-version": api.max });
      res.end(JSON.stringify(body));
    };
    if (path === "/_ping") {
      res.writeHead(200, { "content-type": "text/plain", "api-version": api.max });
      res.end("OK");
      return;
    }
    if (path === "/version") {
      send(200, { Version: "29.0.0", ApiVersion: api.max, MinAPIVersion: api.min, Os: "linux" });
      return;
    }
    const asked = /^\/v(\d+)\.(\d+)\//.exec(path);
    if (!asked) {
      send(404, { message: "page not found" });
      return;
    }
    const [major, minor] = api.min.split(".").map(Number) as [number, number];
    if (Number(asked[1]) < major || (Number(asked[1]) === major && Number(asked[2]) < minor)) {
      send(400, {
        message: `client version ${asked[1]}.${asked[2]} is too old. Minimum supported API version is ${api.min}, please upgrade your client to a newer version`,
      });
      return;
    }
    send(200, { ID: "fake", KernelVersion: "6.1.0" });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { paths, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe("DockerClient API version negotiation", () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-client-test-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const engines = [
    { name: "Docker 29 (1.44 to 1.52)", max: "1.52", min: "1.44", want: "1.51" },
    { name: "an engine accepting only 1.55 and newer", max: "1.56", min: "1.55", want: "1.55" },
    { name: "Docker 20.10 (1.12 to 1.41)", max: "1.41", min: "1.12", want: "1.41" },
  ];
  for (const engine of engines) {
    describe(engine.name, () => {
      const socket = join(dir, `${engine.min}.sock`);
      let server: Awaited<ReturnType<typeof fakeEngine>>;
      let client: DockerClient;
      before(async () => {
        server = await fakeEngine(socket, engine);
        client = new DockerClient(
          parseDockerEndpoint({ host: `unix://${socket}`, tlsVerify: false, certPath: undefined }),
        );
      });
      after(async () => {
        await client.close();
        await server.close();
      });

      test(`speaks ${engine.want}, which the engine accepts`, async () => {
        assert.equal(await client.apiVersion(), engine.want);
        const info = await client.info();
        assert.equal(info.ID, "fake");
        assert.equal(server.paths.at(-1), `/v${engine.want}/info`);
      });
    });
  }
});
