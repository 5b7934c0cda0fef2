/**
 * An engine call that failed. `status` is the HTTP status (0 when the engine could not be reached);
 * `message` is the daemon's own `{"message": ...}` text, which callers print after Docker's
 * "Error response from daemon: " prefix. Callers decide on `status`, not on the text.
 */
export class ClientError extends Error {
  readonly status: number;
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
    this.name = 'ClientError';
  }
  get isNotFound(): boolean { return this.status === 404; }
  get isConflict(): boolean { return this.status === 409; }
  /** The engine was not reachable at all (connection refused, no socket). */
  get isConnection(): boolean { return this.status === 0; }
}
