import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { CriDriver, MeasuredCall, PodSpec, PollResult, StartedPod } from "./driver.ts";

/**
 * The benchmark's load through kubelet-client/ (k8s.io/cri-client on grpc-go, as the kubelet
 * calls): one JSON request per line on its stdin, one JSON answer per line on its stdout.
 */
export class GoDriver implements CriDriver {
  readonly kind = "go";
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly answers: AsyncIterator<string>;
  private stderr = "";

  constructor(binary: string, endpoint: string) {
    this.child = spawn(binary, ["--endpoint", endpoint], { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stderr.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.answers = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  private async request<T>(body: Record<string, unknown>): Promise<T> {
    this.child.stdin.write(`${JSON.stringify(body)}\n`);
    const line = await this.answers.next();
    if (line.done) throw new Error(`kubelet-client exited: ${this.stderr}`);
    const answer = JSON.parse(line.value) as { result?: T; error?: string };
    if (answer.error !== undefined) throw new Error(`kubelet-client ${body.op}: ${answer.error}`);
    return answer.result as T;
  }

  async ensureImage(image: string): Promise<void> {
    await this.request({ op: "ensureImage", image });
  }

  runPod(pod: PodSpec): Promise<StartedPod> {
    return this.request({ op: "runPod", pod });
  }

  async removePod(podId: string): Promise<number> {
    return (await this.request<{ ms: number }>({ op: "removePod", podId })).ms;
  }

  async measure(call: MeasuredCall, n: number, pods: StartedPod[]): Promise<number[]> {
    return (await this.request<{ samples: number[] }>({ op: "measure", call, n, pods })).samples;
  }

  poll(seconds: number, pods: StartedPod[], uids: string[]): Promise<PollResult> {
    return this.request({ op: "poll", seconds, pods, uids });
  }

  async close(): Promise<void> {
    this.child.stdin.end();
    if (this.child.exitCode === null)
      await new Promise((resolve) => this.child.once("exit", resolve));
  }
}
