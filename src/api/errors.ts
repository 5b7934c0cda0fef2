import type { ServerResponse } from 'node:http';
import { BerthError, ErrorKind } from '../base/errors';

const STATUS: Record<ErrorKind, number> = {
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  InvalidArgument: 400,
  FailedPrecondition: 409,
  PermissionDenied: 403,
  Unauthenticated: 401,
  Unavailable: 503,
  NotImplemented: 501,
  Canceled: 499,
  Internal: 500,
};

/** The one mapping from error kinds to Docker API statuses. */
export function statusOf(err: unknown): number {
  return err instanceof BerthError ? STATUS[err.kind] : 500;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Writes Docker's error body `{"message": ...}` if the response has not started. */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy(err instanceof Error ? err : undefined);
    return;
  }
  const body = JSON.stringify({ message: messageOf(err) });
  res.writeHead(statusOf(err), { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
