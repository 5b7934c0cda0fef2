import { BerthError, failedPrecondition, internal, invalidArgument, notFound } from '../../base/errors';

/**
 * Maps the OCI runtime's stderr (crun or runc, as relayed by conmon) to an error kind.
 * A process that cannot start is InvalidArgument with Docker's wording kept in the message, so the
 * daemon can turn "executable file not found"/"no such file or directory" into exit 127 and
 * "permission denied" into 126 (see startFailureExitCode).
 */
export function mapRuntimeError(op: string, id: string, stderr: string): BerthError {
  const msg = cleanRuntimeMessage(stderr);
  const lower = msg.toLowerCase();
  if (/does not exist|container .* not found|no such container/.test(lower)) return notFound(`container ${id}: ${msg}`);
  // crun reports an unknown id as a missing state directory under its --root.
  if (op !== 'create' && op !== 'exec' && /(cannot open directory|error opening file) .*no such file or directory/.test(lower) && lower.includes(id.toLowerCase())) {
    return notFound(`container ${id}: ${msg}`);
  }
  if (op === 'create' || op === 'start' || op === 'exec') {
    // A knob the runtime failed to write (a cgroup file) is the host's problem, not the command's.
    if (/executable file not found|no such file or directory|permission denied|not a directory|exec format error|is a directory/.test(lower) && !lower.includes('for writing')) {
      return invalidArgument(`OCI runtime ${op} failed: ${msg}: unknown`);
    }
  }
  if (/not running|is not running|already stopped|container not running|is paused|not paused|cannot (pause|resume)|already paused|no such process|is stopped|container state/.test(lower)) {
    return failedPrecondition(`container ${id}: ${msg}`);
  }
  return internal(`OCI runtime ${op} failed for ${id}: ${msg}`);
}

/** Strips the runtime's log decorations (runc's `time=... level=error msg="..."`, crun's JSON). */
export function cleanRuntimeMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const out: string[] = [];
  for (const l of lines) {
    const m = /msg="((?:[^"\\]|\\.)*)"/.exec(l);
    if (m) { out.push(m[1].replace(/\\"/g, '"').replace(/\\\\/g, '\\')); continue; }
    if (l.startsWith('{')) {
      try { const j = JSON.parse(l) as { msg?: string }; if (j.msg) { out.push(j.msg); continue; } } catch { /* not JSON */ }
    }
    out.push(l.replace(/^(Error|error|crun|runc): ?/, ''));
  }
  return out.join('; ') || 'unknown error';
}

/** Docker's CLI exit code for a container that could not start: 127 not found, 126 not executable. */
export function startFailureExitCode(err: unknown): number | undefined {
  if (!(err instanceof BerthError) || err.kind !== 'InvalidArgument') return undefined;
  const m = err.message.toLowerCase();
  if (m.includes('executable file not found') || m.includes('no such file or directory')) return 127;
  if (m.includes('permission denied') || m.includes('exec format error') || m.includes('is a directory')) return 126;
  return undefined;
}
