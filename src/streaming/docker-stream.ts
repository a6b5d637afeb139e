/**
 * Docker's multiplexed stream format, used on attach and exec connections of containers and
 * execs without a tty: each piece of output comes behind an 8-byte header naming the stream
 * (1 stdout, 2 stderr; 3 carries the engine's own error text) and the payload's length.
 */

export const DockerStream = { stdin: 0, stdout: 1, stderr: 2, systemError: 3 } as const;

export interface DockerFrame {
  stream: number;
  data: Buffer;
}

/**
 * Splits the multiplexed byte stream incrementally. Payloads are handed out as they arrive,
 * before their frame is complete, so one large frame never sits whole in memory.
 */
export class DockerStreamDemuxer {
  #header = Buffer.alloc(0);
  #stream = 0;
  #remaining = 0;

  push(chunk: Buffer): DockerFrame[] {
    const out: DockerFrame[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#remaining === 0) {
        const need = 8 - this.#header.length;
        this.#header = Buffer.concat([this.#header, chunk.subarray(offset, offset + need)]);
        offset += Math.min(need, chunk.length - offset);
        if (this.#header.length < 8) break;
        this.#stream = this.#header[0] as number;
        this.#remaining = this.#header.readUInt32BE(4);
        this.#header = Buffer.alloc(0);
        continue;
      }
      const take = Math.min(this.#remaining, chunk.length - offset);
      const data = chunk.subarray(offset, offset + take);
      offset += take;
      this.#remaining -= take;
      if (take > 0) out.push({ stream: this.#stream, data });
    }
    return out;
  }
}
