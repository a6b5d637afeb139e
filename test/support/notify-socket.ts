import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";

export interface NotifyMessage {
  /** The sender's pid from SCM_CREDENTIALS: what systemd attributes the message by. */
  pid: number;
  /** The assignments, e.g. ["READY=1", "STATUS=..."]. */
  fields: string[];
}

export interface NotifySocket {
  /** The value for NOTIFY_SOCKET: a path, or `@name` for an abstract socket. */
  address: string;
  messages: NotifyMessage[];
  /** Resolves with the first message (past or future) that has `field`. */
  waitFor(field: string, timeoutMs?: number): Promise<NotifyMessage>;
  close(): void;
}

/**
 * Node has no AF_UNIX datagram sockets: python3's socket module binds the receiving end, as
 * systemd's manager does, with SO_PASSCRED so each datagram carries its sender's pid.
 */
const RECEIVER = `
import json, socket, struct, sys
address = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\\0" + address[1:] if address.startswith("@") else address)
print(json.dumps({"bound": True}), flush=True)
while True:
    data, ancillary, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
    pid = 0
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
    print(json.dumps({"pid": pid, "fields": data.decode().strip().split("\\n")}), flush=True)
`;

export function python3Available(): boolean {
  return spawnSync("python3", ["-c", "import socket"], { stdio: "ignore" }).status === 0;
}

export async function bindNotifySocket(address: string): Promise<NotifySocket> {
  const child: ChildProcess = spawn("python3", ["-c", RECEIVER, address], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const messages: NotifyMessage[] = [];
  const waiters: Array<() => void> = [];
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      const parsed = JSON.parse(line) as { bound?: boolean } & NotifyMessage;
      if (parsed.bound) return resolve();
      messages.push({ pid: parsed.pid, fields: parsed.fields });
      for (const wake of waiters.splice(0)) wake();
    });
    child.once("exit", (code) => reject(new Error(`notify receiver exited ${code}: ${stderr}`)));
  });
  return {
    address,
    messages,
    async waitFor(field, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find((message) => message.fields.includes(field));
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(`no ${field} on ${address}; got ${JSON.stringify(messages)}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    close() {
      child.kill("SIGKILL");
    },
  };
}
