/**
 * Structured JSON logs (pino). Anything that may carry a secret is redacted
 * by path, so a careless `log.info({ body })` cannot leak a password, code,
 * token or key.
 */
import pino from 'pino';

/** The logger type passed to every module. */
export type Logger = pino.Logger;

/** Paths censored in every log line. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'code',
  '*.code',
  'secret',
  '*.secret',
  'enrollment_secret',
  '*.enrollment_secret',
  'token',
  '*.token',
  'mfa_token',
  '*.mfa_token',
  'access_token',
  '*.access_token',
  'refresh_token',
  '*.refresh_token',
  'client_secret',
  '*.client_secret',
  'key',
  '*.key',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
];

/** Creates the process logger. `destination` defaults to stdout. */
export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'custos' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}
