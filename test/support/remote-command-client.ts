import { SpdyTestClient, type TestStream } from "./spdy-client.ts";

/** The protocols client-go offers for exec and attach over SPDY, in its order. */
export const CLIENT_GO_PROTOCOLS = [
  "v5.channel.k8s.io",
  "v4.channel.k8s.io",
  "v3.channel.k8s.io",
  "v2.channel.k8s.io",
  "channel.k8s.io",
];

export interface SpdySession {
  client: SpdyTestClient;
  protocol: string | undefined;
  error: TestStream;
  stdin: TestStream | undefined;
  stdout: TestStream | undefined;
  stderr: TestStream | undefined;
  resize: TestStream | undefined;
}

/** Opens a remotecommand session the way client-go does: streams in order, each replied. */
export async function openSpdySession(
  url: string,
  want: { stdin?: boolean; stdout?: boolean; stderr?: boolean; tty?: boolean },
  protocols = CLIENT_GO_PROTOCOLS,
): Promise<SpdySession> {
  const client = await SpdyTestClient.connect(url, protocols);
  const protocol = client.protocol;
  const error = await client.openStream({ streamtype: "error" });
  const stdin = want.stdin ? await client.openStream({ streamtype: "stdin" }) : undefined;
  const stdout = want.stdout ? await client.openStream({ streamtype: "stdout" }) : undefined;
  const stderr =
    want.stderr && !want.tty ? await client.openStream({ streamtype: "stderr" }) : undefined;
  const resize = want.tty ? await client.openStream({ streamtype: "resize" }) : undefined;
  return { client, protocol, error, stdin, stdout, stderr, resize };
}

export interface SessionResult {
  stdout: string;
  stderr: string;
  /** The error stream's content (a v4 status JSON, or v1–v3 text). */
  status: string;
  /** The exit code as client-go derives it from a v4 status (0 for Success). */
  exitCode: number | undefined;
}

/** Waits for the end of a session: output streams and the error stream reach EOF. */
export async function finishSpdySession(session: SpdySession): Promise<SessionResult> {
  await Promise.all([session.stdout?.ended, session.stderr?.ended, session.error.ended]);
  const status = session.error.text();
  const result = {
    stdout: session.stdout?.text() ?? "",
    stderr: session.stderr?.text() ?? "",
    status,
    exitCode: exitCodeFromStatus(status),
  };
  await session.client.close();
  return result;
}

/** client-go's reading of a v4 status (errorDecoderV4). */
export function exitCodeFromStatus(text: string): number | undefined {
  if (!text.startsWith("{")) return undefined; // v1–v3: plain text or nothing
  const status = JSON.parse(text) as {
    status?: string;
    reason?: string;
    details?: { causes?: Array<{ reason?: string; message?: string }> };
  };
  if (status.status === "Success") return 0;
  if (status.reason === "NonZeroExitCode") {
    const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
    if (cause?.message !== undefined) return Number(cause.message);
  }
  return undefined;
}

export async function execOverSpdy(
  url: string,
  want: { stdin?: string; stdout?: boolean; stderr?: boolean; tty?: boolean },
): Promise<SessionResult> {
  const session = await openSpdySession(url, { ...want, stdin: want.stdin !== undefined });
  if (session.stdin && want.stdin !== undefined) {
    await session.stdin.write(want.stdin);
    await session.stdin.end();
  }
  return finishSpdySession(session);
}
