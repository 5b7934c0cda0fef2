import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { isKind } from '../base/errors';
import { ALL_CAPABILITIES, computeCapabilities, DEFAULT_CAPABILITIES } from './capabilities';
import { kernelAtLeast, SeccompTranslator, translateSeccomp, parseSeccompProfile } from './seccomp';

test('capabilities: defaults, add/drop, ALL, privileged, unknown', () => {
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
  assert.deepEqual(new Set(computeCapabilities({ capAdd: [], capDrop: [], privileged: false })), new Set(DEFAULT_CAPABILITIES));
  const c = computeCapabilities({ capAdd: ['net_admin'], capDrop: ['CAP_CHOWN', 'mknod'], privileged: false });
  assert.ok(c.includes('CAP_NET_ADMIN') && !c.includes('CAP_CHOWN') && !c.includes('CAP_MKNOD'));
  assert.deepEqual(computeCapabilities({ capAdd: ['KILL'], capDrop: ['ALL'], privileged: false }), ['CAP_KILL']);
  assert.equal(computeCapabilities({ capAdd: ['ALL'], capDrop: ['SYS_ADMIN'], privileged: false }).length, ALL_CAPABILITIES.length - 1);
  assert.equal(computeCapabilities({ capAdd: [], capDrop: ['ALL'], privileged: true }).length, ALL_CAPABILITIES.length);
  assert.throws(() => computeCapabilities({ capAdd: ['BOGUS'], capDrop: [], privileged: false }), (e) => isKind(e, 'InvalidArgument'));
});

test('seccomp: translation of the Docker profile for x86_64 by caps', () => {
  const text = readFileSync('/usr/share/containers/seccomp.json', 'utf8');
  const p = parseSeccompProfile(text);
  const t = translateSeccomp(p, { arch: 'x64', kernel: '6.18.0', capabilities: DEFAULT_CAPABILITIES });
  assert.deepEqual(t.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.equal(t.defaultAction, 'SCMP_ACT_ERRNO');
  const allowed = (name: string, rules = t.syscalls) => rules.some((s) => s.action === 'SCMP_ACT_ALLOW' && s.names.includes(name) && !s.args);
  assert.ok(allowed('read') && allowed('arch_prctl') && allowed('chroot'));
  assert.ok(!allowed('s390_runtime_instr') && !allowed('bpf') && !allowed('acct'));
  for (const s of t.syscalls) assert.ok(!('includes' in s) && !('excludes' in s));
  const admin = translateSeccomp(p, { arch: 'x64', kernel: '6.18.0', capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'] });
  assert.ok(allowed('bpf', admin.syscalls) && !allowed('acct', admin.syscalls));
  const arm = translateSeccomp(p, { arch: 'arm64', kernel: '6.1', capabilities: [] });
  assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.ok(!allowed('arch_prctl', arm.syscalls) && !allowed('chroot', arm.syscalls));
  const cache = new SeccompTranslator(text, { arch: 'x64', kernel: '6.18' });
  assert.equal(cache.forCapabilities(['CAP_KILL', 'CAP_CHOWN']), cache.forCapabilities(['CAP_CHOWN', 'CAP_KILL']));
  assert.throws(() => parseSeccompProfile('{'), (e) => isKind(e, 'InvalidArgument'));
});

test('seccomp: minKernel', () => {
  assert.ok(kernelAtLeast('6.18.0-1-amd64', '4.8'));
  assert.ok(!kernelAtLeast('4.4.0', '4.8'));
  assert.ok(kernelAtLeast('5.10', '5.10'));
  const p = parseSeccompProfile(JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [
    { names: ['new_one'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '7.0' } },
    { names: ['old_one'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.0' } }] }));
  const t = translateSeccomp(p, { arch: 'x64', kernel: '6.18', capabilities: [] });
  assert.deepEqual(t.syscalls.map((s) => s.names[0]), ['old_one']);
});
