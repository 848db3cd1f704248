// A catalogue of typed errors with stable codes; `retryable` is data, not a guess at
// the call site. HTTP-facing services map `status` straight into answers.
export interface ErrorSpec {
  readonly status: number;
  readonly retryable: boolean;
  readonly message: string;
}

export const ERRORS = {
  BAD_REQUEST: { status: 400, retryable: false, message: 'malformed request' },
  SOURCE_NOT_FOUND: { status: 404, retryable: false, message: 'unknown source' },
  UNAUTHORIZED: { status: 401, retryable: false, message: 'request could not be authenticated' },
  BODY_TOO_LARGE: { status: 413, retryable: false, message: 'request body exceeds the source limit' },
  EVENT_TYPE_NOT_ALLOWED: { status: 422, retryable: false, message: 'event type is not accepted by this source' },
  CAPTURE_UNAVAILABLE: { status: 503, retryable: true, message: 'event could not be captured; retry later' },
  DESTINATION_NOT_FOUND: { status: 404, retryable: false, message: 'unknown destination, or it takes no receipts' },
  UNKNOWN_WEBHOOK_ID: { status: 404, retryable: false, message: 'no delivery with this webhook-id was delivered to this destination' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export class HookyardError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    const spec = ERRORS[code];
    super(message ?? spec.message, options);
    this.name = 'HookyardError';
    this.code = code;
    this.status = spec.status;
    this.retryable = spec.retryable;
  }

  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** Raised when the YAML config fails validation: one line per problem, by path. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[]) {
    super(`invalid configuration in ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
