import { pino, type Logger } from 'pino';

// Secrets must never reach the logs: auth headers, signatures and config secrets.
export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie',
  '*.secret', '*.token', '*.password', '*.signingSecret', '*.authToken', '*.key',
  'headers["stripe-signature"]', 'headers["x-hub-signature-256"]', 'headers["webhook-signature"]',
];

/** `fd` 2 sends logs to stderr (the CLI, whose stdout is its output). */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info', fd: 1 | 2 = 1): Logger {
  return pino({ name: service, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, pino.destination(fd));
}

export type { Logger };
