import { messageOf } from "../errors.ts";

/** One dependency of berth's health: undefined when it is fine, else why not. */
export type Probe = () => Promise<string | undefined>;

export interface HealthReport {
  healthy: boolean;
  /** One line per failing probe, e.g. "docker: connect ENOENT /var/run/docker.sock". */
  reasons: string[];
}

/** How long an answer is reused: /healthz may be polled often, the engine pinged once a second. */
export const HEALTH_CACHE_MS = 1_000;

/**
 * /healthz's verdict: every named probe must pass. Each probe's answer is cached for a
 * second, as Status caches its engine ping, so a tight probe loop costs one ping a second;
 * concurrent checks share one probe.
 */
export class Health {
  readonly #probes: Array<{
    name: string;
    probe: Probe;
    last?: { at: number; answer: Promise<string | undefined> };
  }>;
  readonly #now: () => number;

  constructor(probes: Record<string, Probe>, now: () => number = Date.now) {
    this.#probes = Object.entries(probes).map(([name, probe]) => ({ name, probe }));
    this.#now = now;
  }

  async check(): Promise<HealthReport> {
    const now = this.#now();
    const answers = await Promise.all(
      this.#probes.map((entry) => {
        if (!entry.last || now - entry.last.at >= HEALTH_CACHE_MS) {
          const answer = entry.probe().catch((err: unknown) => messageOf(err));
          entry.last = { at: now, answer };
        }
        return entry.last.answer.then((reason) =>
          reason === undefined ? undefined : `${entry.name}: ${reason}`,
        );
      }),
    );
    const reasons = answers.filter((reason): reason is string => reason !== undefined);
    return { healthy: reasons.length === 0, reasons };
  }
}
