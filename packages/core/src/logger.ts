import { isatty } from 'node:tty';
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

// Secrets must never reach the logs: auth headers, signatures and config secrets.
export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie',
  '*.secret', '*.token', '*.password', '*.signingSecret', '*.authToken', '*.key',
  'headers["stripe-signature"]', 'headers["x-hub-signature-256"]', 'headers["webhook-signature"]',
];

export type LogFormat = 'json' | 'pretty';

/**
 * `LOG_FORMAT=json|pretty`; unset, pretty when the output is a terminal (a person reads
 * it) and JSON lines otherwise (CI, containers, log shippers).
 */
export function logFormat(fd: 1 | 2, env: NodeJS.ProcessEnv = process.env): LogFormat {
  const f = env.LOG_FORMAT?.trim().toLowerCase();
  if (f === 'json' || f === 'pretty') return f;
  return isatty(fd) ? 'pretty' : 'json';
}

const OWN_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

/**
 * One line per entry: time, level, service, message, then the fields as key=value.
 * (pino-pretty's own object printing puts errors on lines of their own, whatever
 * singleLine says; the fields are written here instead.)
 */
export function prettyLine(entry: Record<string, unknown>): string {
  let out = String(entry.msg ?? '');
  for (const [k, v] of Object.entries(entry)) {
    if (OWN_KEYS.has(k) || v === undefined) continue;
    const text = typeof v === 'string' ? (/^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)) : JSON.stringify(v);
    out += ` ${k}=${text}`;
  }
  return out;
}

export function prettyStream(fd: 1 | 2): DestinationStream {
  return pretty({
    destination: fd, sync: true, hideObject: true,
    translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname',
    messageFormat: (entry) => prettyLine(entry),
  });
}

/** `fd` 2 sends logs to stderr (the CLI, whose stdout is its output). */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info', fd: 1 | 2 = 1, format: LogFormat = logFormat(fd)): Logger {
  const redact = { paths: REDACT_PATHS, censor: '[redacted]' };
  if (format === 'json') return pino({ name: service, level, redact }, pino.destination(fd));
  return pino({ name: service, level, redact, serializers: { err: errLine } }, prettyStream(fd));
}

export type { Logger };

type LogFn = (...args: unknown[]) => void;
type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** A child logger made on first use. One object per request, methods on the prototype. */
class LazyChild {
  private made: Logger | undefined;
  private readonly parent: Logger;
  private readonly bindingsOf: Record<string, unknown>;
  private readonly opts: object;
  constructor(parent: Logger, bindings: Record<string, unknown>, opts: object) {
    this.parent = parent;
    this.bindingsOf = bindings;
    this.opts = opts;
  }
  private real(): Logger {
    return (this.made ??= this.parent.child(this.bindingsOf, this.opts));
  }
  private log(level: Level, args: unknown[]): void {
    if (this.parent.isLevelEnabled(level)) (this.real()[level] as LogFn)(...args);
  }
  fatal(...args: unknown[]): void { this.log('fatal', args); }
  error(...args: unknown[]): void { this.log('error', args); }
  warn(...args: unknown[]): void { this.log('warn', args); }
  info(...args: unknown[]): void { this.log('info', args); }
  debug(...args: unknown[]): void { this.log('debug', args); }
  trace(...args: unknown[]): void { this.log('trace', args); }
  silent(): void {}
  child(bindings: Record<string, unknown>, opts?: object): Logger { return this.real().child(bindings, opts); }
  get level(): string { return this.made?.level ?? this.parent.level; }
  set level(l: string) { this.real().level = l; }
  isLevelEnabled(l: string): boolean { return (this.made ?? this.parent).isLevelEnabled(l); }
  bindings(): Record<string, unknown> { return this.real().bindings(); }
}

/**
 * A fastify childLoggerFactory that creates the per-request child (with its reqId binding)
 * only when the request actually logs. With redaction configured, pino compiles every
 * child's bindings through the redactor: at thousands of requests a second that was 2-3 %
 * of ingress's CPU, for requests that almost never log.
 */
export function lazyChildLoggerFactory(logger: Logger, bindings: Record<string, unknown>, opts: object): Logger {
  return new LazyChild(logger, bindings, opts) as unknown as Logger;
}

/** An error as one line for a terminal (JSON lines keep the stack). */
function errLine(e: unknown): unknown {
  return e instanceof Error ? `${e.name}: ${e.message}` : e;
}
