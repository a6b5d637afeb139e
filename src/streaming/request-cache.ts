import { randomBytes } from "node:crypto";
import { BerthError } from "../errors.ts";

export interface RequestCacheOptions {
  /** How long a token stays valid (upstream: one minute). */
  ttlMs?: number;
  /** Tokens in flight at once before new ones are refused (upstream: 1000). */
  maxInFlight?: number;
  now?: () => number;
  random?: (bytes: number) => Buffer;
}

/**
 * The streaming requests the Exec, Attach and PortForward RPCs hand out, each under a random
 * single-use token that expires. The first lookup removes the entry whatever comes of it, so
 * a token cannot be replayed. Entries are inserted with one TTL, so the Map's insertion order
 * is also expiry order and sweeping stops at the first live entry.
 */
export class RequestCache<T> {
  readonly #entries = new Map<string, { value: T; expiresAt: number }>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #random: (bytes: number) => Buffer;

  constructor(options: RequestCacheOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#max = options.maxInFlight ?? 1000;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? randomBytes;
  }

  /** Stores a request and returns its token; ResourceExhausted when too many are in flight. */
  insert(value: T): string {
    this.#sweep();
    if (this.#entries.size >= this.#max) {
      throw new BerthError(
        "ResourceExhausted",
        `too many streaming requests in flight (${this.#max}); retry shortly`,
      );
    }
    for (;;) {
      // 6 random bytes as 8 base64url characters, as upstream: unguessable within the
      // token's one-minute life, and short enough for logs.
      const token = this.#random(6).toString("base64url");
      if (this.#entries.has(token)) continue;
      this.#entries.set(token, { value, expiresAt: this.#now() + this.#ttlMs });
      return token;
    }
  }

  /** The request under a token, removing it; undefined when unknown, used or expired. */
  consume(token: string): T | undefined {
    const entry = this.#entries.get(token);
    if (!entry) return undefined;
    this.#entries.delete(token);
    return entry.expiresAt > this.#now() ? entry.value : undefined;
  }

  get size(): number {
    return this.#entries.size;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [token, entry] of this.#entries) {
      if (entry.expiresAt > now) break;
      this.#entries.delete(token);
    }
  }
}
