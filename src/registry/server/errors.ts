/**
 * The registry's errors: berth's error kinds (base/errors.ts) plus the subject they are about, and
 * the one function that maps them to the OCI distribution spec's error codes and statuses
 * (distribution-spec v1.1, "Error Codes"). Storage and routes throw `RegistryError`s; only
 * `toDistributionError` knows about codes.
 */
import { BerthError, type ErrorKind } from '../../base/errors';

/** What an error is about; with the kind it picks the distribution error code. */
export type Subject =
  | 'blob'          // a blob in a repository
  | 'upload'        // an upload session
  | 'range'         // a chunk that does not continue the upload, or an unsatisfiable Range
  | 'digest'        // a digest given by the client
  | 'size'          // a declared or actual length
  | 'manifest'      // a manifest (by tag or digest), its content or its tag
  | 'manifest-size' // a manifest larger than the limit
  | 'media-type'    // a manifest media type we do not store
  | 'name'          // a repository name
  | 'operation';    // the request as a whole (read-only mode, unknown route)

export class RegistryError extends BerthError {
  readonly subject: Subject;
  readonly detail: unknown;
  constructor(kind: ErrorKind, subject: Subject, message: string, detail?: unknown) {
    super(kind, message);
    this.subject = subject;
    this.detail = detail;
  }
}

/** A refused request: Unauthenticated (401) or PermissionDenied (403), with the challenge to send. */
export class AuthError extends RegistryError {
  /** The `WWW-Authenticate` header value, when the client is to (re)authenticate. */
  readonly challenge?: string;
  constructor(status: 401 | 403, message: string, challenge?: string) {
    super(status === 401 ? 'Unauthenticated' : 'PermissionDenied', 'operation', message);
    this.challenge = challenge;
  }
}

export const registryError = (kind: ErrorKind, subject: Subject, message: string, detail?: unknown) =>
  new RegistryError(kind, subject, message, detail);

export type DistributionCode =
  | 'BLOB_UNKNOWN' | 'BLOB_UPLOAD_INVALID' | 'BLOB_UPLOAD_UNKNOWN' | 'DIGEST_INVALID' | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID' | 'MANIFEST_UNKNOWN' | 'NAME_INVALID' | 'NAME_UNKNOWN' | 'SIZE_INVALID' | 'UNAUTHORIZED'
  | 'DENIED' | 'UNSUPPORTED' | 'TOOMANYREQUESTS' | 'UNKNOWN';

export interface DistributionError {
  status: number;
  code: DistributionCode;
  message: string;
  detail?: unknown;
  /** `WWW-Authenticate` for UNAUTHORIZED. */
  challenge?: string;
}

/**
 * The one mapping from berth errors to distribution error codes and HTTP statuses. Anything that
 * is not a BerthError is an internal failure: 500 with a generic body (the spec has no code for it;
 * like distribution we send UNKNOWN, which clients treat as opaque).
 */
export function toDistributionError(err: unknown): DistributionError {
  if (!(err instanceof BerthError)) return { status: 500, code: 'UNKNOWN', message: 'internal error' };
  const subject: Subject | undefined = err instanceof RegistryError ? err.subject : undefined;
  const detail = err instanceof RegistryError ? err.detail : undefined;
  const e = (status: number, code: DistributionCode): DistributionError => ({ status, code, message: err.message, detail });
  switch (err.kind) {
    case 'NotFound':
      switch (subject) {
        case 'blob': return e(404, 'BLOB_UNKNOWN');
        case 'upload': return e(404, 'BLOB_UPLOAD_UNKNOWN');
        case 'manifest': return e(404, 'MANIFEST_UNKNOWN');
        default: return e(404, 'NAME_UNKNOWN');
      }
    case 'InvalidArgument':
      switch (subject) {
        case 'digest': return e(400, 'DIGEST_INVALID');
        case 'name': return e(400, 'NAME_INVALID');
        case 'size': return e(400, 'SIZE_INVALID');
        case 'manifest-size': return e(413, 'SIZE_INVALID');
        case 'manifest': return e(400, 'MANIFEST_INVALID');
        case 'range': return e(416, 'BLOB_UPLOAD_INVALID');
        case 'media-type': return e(415, 'UNSUPPORTED');
        default: return e(400, 'BLOB_UPLOAD_INVALID');
      }
    // A manifest that names content the repository does not have.
    case 'FailedPrecondition': return e(400, subject === 'manifest' ? 'MANIFEST_BLOB_UNKNOWN' : 'BLOB_UPLOAD_INVALID');
    case 'Conflict': return e(subject === 'range' ? 416 : 409, 'BLOB_UPLOAD_INVALID');
    case 'PermissionDenied': return e(403, 'DENIED');
    case 'Unauthenticated': return { ...e(401, 'UNAUTHORIZED'), ...(err instanceof AuthError && err.challenge ? { challenge: err.challenge } : {}) };
    case 'Unavailable': return e(429, 'TOOMANYREQUESTS');
    // Read-only mode and methods a route does not have: distribution answers 405 UNSUPPORTED.
    case 'NotImplemented': return e(subject === 'media-type' ? 415 : 405, 'UNSUPPORTED');
    default: return { status: 500, code: 'UNKNOWN', message: err.message };
  }
}

/** The spec's error body: `{"errors":[{"code","message","detail"}]}`. */
export function errorBody(e: DistributionError): string {
  return JSON.stringify({ errors: [{ code: e.code, message: e.message, detail: e.detail ?? null }] });
}
