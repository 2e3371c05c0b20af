/** The classes rate limits are configured by: services (client credentials), people (sessions), source addresses (docs/rate-limits.md). */
export const RATE_CLASSES = ['service', 'user', 'address'] as const;

/** A class of limit (also the `class` label of custos_rate_limited_total). */
export type RateClass = (typeof RATE_CLASSES)[number];
