import { constants } from "node:fs";
import { chmod, lstat, mkdir, open, readFile, rm, unlink } from "node:fs/promises";
import { connect } from "node:net";
import { dirname } from "node:path";

/**
 * Claiming a unix socket path safely. A lock file next to the socket, created exclusively and
 * holding berth's PID, decides who owns the path, so two berths starting together cannot
 * both unlink and bind; a socket file left by a crashed berth is replaced.
 */
export class SocketInUseError extends Error {}

export async function claimSocketPath(
  socketPath: string,
): Promise<{ release: () => Promise<void> }> {
  await mkdir(dirname(socketPath), { recursive: true, mode: 0o750 });
  const lockPath = `${socketPath}.lock`;
  await takeLock(lockPath, socketPath);
  try {
    await removeStaleSocket(socketPath);
  } catch (err) {
    await rm(lockPath, { force: true });
    throw err;
  }
  return {
    release: async () => {
      await rm(socketPath, { force: true });
      await rm(lockPath, { force: true });
    },
  };
}

async function takeLock(lockPath: string, socketPath: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(
        lockPath,
        constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY,
        0o600,
      );
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const owner = Number.parseInt(await readFile(lockPath, "utf8").catch(() => ""), 10);
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      throw new SocketInUseError(
        `another berth (pid ${owner}) is already serving on ${socketPath}; stop it first or choose another --listen socket`,
      );
    }
    // The owner is gone (killed, host rebooted): its lock is stale.
    await unlink(lockPath).catch(() => {});
  }
  throw new SocketInUseError(
    `could not lock ${lockPath}: another berth is starting on ${socketPath}`,
  );
}

async function removeStaleSocket(socketPath: string): Promise<void> {
  const stat = await lstat(socketPath).catch(() => undefined);
  if (!stat) return;
  if (!stat.isSocket()) {
    throw new SocketInUseError(`${socketPath} exists and is not a socket; refusing to replace it`);
  }
  if (await answers(socketPath)) {
    throw new SocketInUseError(
      `${socketPath} is in use by another process; stop it first or choose another --listen socket`,
    );
  }
  await unlink(socketPath);
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    const finish = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
    socket.setTimeout(1000, () => finish(false));
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Only root and the socket's group may call the CRI: it can run anything on the node. */
export async function restrictSocket(socketPath: string): Promise<void> {
  await chmod(socketPath, 0o660);
}
