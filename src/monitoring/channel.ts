/** The PostgreSQL NOTIFY channel of alert changes: `{"id", "event"}` payloads from detectors and from the lifecycle operations. */
export const ALERTS_CHANNEL = 'custos_alerts';
