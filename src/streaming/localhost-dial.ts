import { Socket } from "node:net";

/**
 * Connects to a port on localhost the way a pod's own processes reach it: IPv4 first, then
 * IPv6, so a service bound only to 127.0.0.1 or only to ::1 is found. No node imports beyond
 * `net`: this module also runs in the small dialer process inside a pod's network namespace.
 *
 * The socket is paused before it connects, so nothing is read from it here: a server that
 * speaks first (SSH, SMTP) must not lose its greeting when the socket is handed to another
 * process.
 */
export async function dialLocalhost(port: number): Promise<Socket> {
  try {
    return await dialOnce("127.0.0.1", port);
  } catch (v4Error) {
    try {
      return await dialOnce("::1", port);
    } catch {
      throw v4Error;
    }
  }
}

function dialOnce(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = new Socket({ allowHalfOpen: true });
    socket.pause();
    const onError = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.once("error", onError);
    socket.connect({ host, port }, () => {
      socket.off("error", onError);
      resolve(socket);
    });
  });
}
