// The CLI's two ways to fail. Wrong input: the one-line reason, exit 2, nothing changed.
// A failure while working: the reason and what was done so far, exit 1.
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export class CommandFailed extends Error {
  /** What was done before the failure, as the command's summary line. */
  readonly doneSoFar: string;
  constructor(cause: unknown, doneSoFar: string) {
    super((cause as Error)?.message ?? String(cause), { cause });
    this.name = 'CommandFailed';
    this.doneSoFar = doneSoFar;
  }
}
