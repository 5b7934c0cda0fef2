/**
 * berth's one error vocabulary. Code everywhere throws `BerthError`s by kind; exactly one function
 * in api/ maps kinds to HTTP statuses (and one in registry/ to distribution error codes).
 * Tests assert on `kind`, never on message text.
 */
export type ErrorKind =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'InvalidArgument'
  | 'FailedPrecondition'
  | 'PermissionDenied'
  | 'Unauthenticated'
  | 'Unavailable'
  | 'NotImplemented'
  | 'Canceled'
  | 'Internal';

export class BerthError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = `BerthError(${kind})`;
  }
}

export const notFound = (msg: string, cause?: unknown) => new BerthError('NotFound', msg, { cause });
export const alreadyExists = (msg: string, cause?: unknown) => new BerthError('AlreadyExists', msg, { cause });
export const conflict = (msg: string, cause?: unknown) => new BerthError('Conflict', msg, { cause });
export const invalidArgument = (msg: string, cause?: unknown) => new BerthError('InvalidArgument', msg, { cause });
export const failedPrecondition = (msg: string, cause?: unknown) => new BerthError('FailedPrecondition', msg, { cause });
export const permissionDenied = (msg: string, cause?: unknown) => new BerthError('PermissionDenied', msg, { cause });
export const unavailable = (msg: string, cause?: unknown) => new BerthError('Unavailable', msg, { cause });
export const notImplemented = (msg: string, cause?: unknown) => new BerthError('NotImplemented', msg, { cause });
export const canceled = (msg: string, cause?: unknown) => new BerthError('Canceled', msg, { cause });
export const internal = (msg: string, cause?: unknown) => new BerthError('Internal', msg, { cause });

export function isKind(err: unknown, kind: ErrorKind): boolean {
  return err instanceof BerthError && err.kind === kind;
}

/** Adds context in front of an error's message, keeping its kind ("image sha256:ab..: not found"). */
export function wrap(err: unknown, context: string): BerthError {
  if (err instanceof BerthError) return new BerthError(err.kind, `${context}: ${err.message}`, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new BerthError('Internal', `${context}: ${message}`, { cause: err });
}

/** The errno code of a Node system error ('ENOENT', ...), or undefined. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}
