/**
 * The registry server's authentication contract: who may do what to which repository.
 *
 * The routes compute what a request needs (`requiredAccess`, pure) and ask the configured
 * `Authenticator` once per request, before anything is read or stored. An authenticator never
 * throws for bad or missing credentials: it answers a decision, and the routes turn a refusal into
 * the spec's UNAUTHORIZED (401, with the `WWW-Authenticate` challenge the decision carries) or
 * DENIED (403). Implementations: auth/basic-auth.ts (htpasswd), auth/token-auth.ts (bearer JWTs).
 */
import type { IncomingMessage } from 'node:http';
import type { Route } from './names';

/** One resource scope, as in the token spec: `repository:library/busybox:pull,push`. */
export interface Access {
  type: 'repository' | 'registry';
  name: string;
  /** pull, push, delete or `*` (everything). */
  actions: string[];
}

export type AuthDecision =
  | { ok: true; user?: string }
  | { ok: false; status: 401 | 403; message: string; challenge?: string };

export interface Authenticator {
  /** Whether `req` may do every access in `needs` (empty: only that the client is known, as for `/v2/`). */
  authorize(req: IncomingMessage, needs: Access[]): Promise<AuthDecision>;
}

const READS = new Set(['GET', 'HEAD']);

/**
 * What a request needs: pull for reads, push for writes (uploads, manifest PUT, deletes), and pull
 * on the source repository of a cross-repository mount.
 */
export function requiredAccess(route: Route, method: string, q: URLSearchParams): Access[] {
  if (route.kind === 'base') return [];
  if (route.kind === 'catalog') return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
  const needs: Access[] = [{ type: 'repository', name: route.name, actions: [READS.has(method) ? 'pull' : 'push'] }];
  const from = q.get('from');
  if (route.kind === 'uploads' && q.get('mount') !== null && from !== null && from !== route.name) {
    needs.push({ type: 'repository', name: from, actions: ['pull'] });
  }
  return needs;
}

/** `type:name:actions`, the scope string of challenges and token requests. */
export function formatScope(a: Access): string {
  return `${a.type}:${a.name}:${a.actions.join(',')}`;
}

/** Parses one `scope` value (several scopes may be space separated); ignores malformed entries. */
export function parseScopes(value: string): Access[] {
  const out: Access[] = [];
  for (const s of value.split(' ').filter(Boolean)) {
    const first = s.indexOf(':');
    const last = s.lastIndexOf(':');
    if (first <= 0 || last === first) continue;
    const type = s.slice(0, first);
    if (type !== 'repository' && type !== 'registry') continue;
    out.push({ type, name: s.slice(first + 1, last), actions: s.slice(last + 1).split(',').filter(Boolean) });
  }
  return out;
}

/** Whether `granted` covers every action of every access in `needs` (`*` covers all). */
export function covers(granted: Access[], needs: Access[]): boolean {
  return needs.every((n) => n.actions.every((action) => granted.some((g) =>
    g.type === n.type && g.name === n.name && (g.actions.includes(action) || g.actions.includes('*')))));
}

/** Basic credentials of an `Authorization` header; undefined when absent or not Basic. */
export function basicCredentials(req: IncomingMessage): { user: string; password: string } | undefined {
  const h = req.headers.authorization;
  if (!h || !/^basic /i.test(h)) return undefined;
  const raw = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const colon = raw.indexOf(':');
  if (colon < 0) return undefined;
  return { user: raw.slice(0, colon), password: raw.slice(colon + 1) };
}
