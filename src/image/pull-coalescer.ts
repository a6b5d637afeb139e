/**
 * Shares one run of a task among concurrent callers with the same key (the same image
 * pulled with the same credentials). The task is cancelled only when every caller waiting
 * for it has given up, so one kubelet timeout does not fail the pulls of others.
 */
export class Coalescer<T> {
  readonly #running = new Map<string, Shared<T>>();

  run(key: string, signal: AbortSignal, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    // A caller that already gave up starts nothing.
    if (signal.aborted) return Promise.reject(signal.reason);
    let shared = this.#running.get(key);
    if (!shared) {
      const controller = new AbortController();
      const created: Shared<T> = {
        controller,
        waiters: 0,
        result: Promise.resolve() as Promise<T>,
      };
      created.result = task(controller.signal).finally(() => {
        if (this.#running.get(key) === created) this.#running.delete(key);
      });
      // Nobody may be left to observe a failure once all waiters left.
      created.result.catch(() => {});
      this.#running.set(key, created);
      shared = created;
    }
    return this.#wait(key, shared, signal);
  }

  /** How many distinct tasks are running (for tests and verbose status). */
  get size(): number {
    return this.#running.size;
  }

  #wait(key: string, shared: Shared<T>, signal: AbortSignal): Promise<T> {
    shared.waiters++;
    return new Promise<T>((resolve, reject) => {
      let left = false;
      const leave = (): boolean => {
        if (left) return false;
        left = true;
        signal.removeEventListener("abort", onAbort);
        shared.waiters--;
        return true;
      };
      const onAbort = () => {
        if (!leave()) return;
        if (shared.waiters === 0 && this.#running.get(key) === shared) {
          this.#running.delete(key);
          shared.controller.abort(signal.reason);
        }
        reject(signal.reason);
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener("abort", onAbort, { once: true });
      shared.result.then(
        (value) => leave() && resolve(value),
        (err: unknown) => leave() && reject(err),
      );
    });
  }
}

interface Shared<T> {
  controller: AbortController;
  waiters: number;
  result: Promise<T>;
}
