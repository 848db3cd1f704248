// What the index cannot store: whether a destination is held right now (paused by an
// operator or from config, or its breaker open). Pending and retrying deliveries to a held
// destination are shown as "held".
import { DestinationStateStore, RedisProtectionStore, type BreakerStatus, type Config, type DestinationState } from '@hookyard/core';

export interface Hold { paused: DestinationState | null; breaker: BreakerStatus | null }

/** The API's view: which destinations are held now, and why. */
export interface LiveDestinations {
  holds(): Promise<Map<string, Hold>>;
}

export class KafkaRedisLive implements LiveDestinations {
  private cached: { at: number; value: Promise<Map<string, Hold>> } | undefined;
  private readonly config: Config;
  private readonly states: DestinationStateStore;
  private readonly protection: RedisProtectionStore;

  constructor(config: Config, states: DestinationStateStore, protection: RedisProtectionStore) {
    this.config = config;
    this.states = states;
    this.protection = protection;
  }

  /** Read at most once a second: a page of results asks once, not once per row. */
  holds(): Promise<Map<string, Hold>> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < 1000) return this.cached.value;
    const value = (async () => {
      const out = new Map<string, Hold>();
      for (const d of this.config.destinations) {
        const s = this.states.get(d.name);
        const paused = d.paused ? { paused: true, reason: 'paused in the configuration', at: 0, by: 'config' } : s?.paused ? s : null;
        // Redis down: the breaker is unknown, not open.
        const breaker = d.breaker.enabled ? await this.protection.breaker(d.name, d.breaker.cooldownMs, now).catch(() => null) : null;
        if (paused || (breaker && breaker.state !== 'closed')) out.set(d.name, { paused, breaker: breaker && breaker.state !== 'closed' ? breaker : null });
      }
      return out;
    })();
    this.cached = { at: now, value };
    return value;
  }
}
