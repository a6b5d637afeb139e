/**
 * The dialer berth runs inside a pod's network namespace (`nsenter --net=... node this`),
 * one per port-forward session. It only connects: each connected socket is handed to berth
 * over the IPC channel (the file descriptor moves; the kernel socket stays in the pod's
 * namespace), and berth relays the bytes itself. It exits when berth goes away.
 */
import type { Socket } from "node:net";
import { dialLocalhost } from "./localhost-dial.ts";

interface DialRequest {
  id: number;
  port: number;
}

process.on("message", (message: DialRequest) => {
  dialLocalhost(message.port).then(
    (socket: Socket) => {
      process.send?.({ id: message.id, ok: true }, socket, {}, () => socket.destroy());
    },
    (err: NodeJS.ErrnoException) => {
      process.send?.({ id: message.id, ok: false, error: err.code ?? err.message });
    },
  );
});
process.on("disconnect", () => process.exit(0));
process.send?.({ ready: true });
