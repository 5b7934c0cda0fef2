import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags } from '../flags';
import { buildCreateRequest, CREATE_FLAGS, parsePortSpec, RUN_ONLY_FLAGS } from './container-opts';
import { startErrorStatus } from './container-run';

const spec = { name: 'run', usage: '', description: '', flags: [...CREATE_FLAGS, ...RUN_ONLY_FLAGS], interspersed: false };
const build = (argv: string[]) => { const p = parseFlags(spec, argv); return buildCreateRequest(p, p.opts.detach as boolean); };

test('run flags map to the ContainerCreate body the docker CLI sends', () => {
  const { body, name } = build(['-it', '--rm', '--name', 'web', '-e', 'A=1', '-u', '1000', '-w', '/srv', '-h', 'box', '-l', 'k=v',
    '--read-only', '--init', '--stop-signal', 'SIGINT', '--stop-timeout', '5', '--privileged', '--cap-add', 'NET_ADMIN', '--cap-drop', 'ALL',
    '--security-opt', 'no-new-privileges', '--tmpfs', '/run:size=1m', '--add-host', 'db:10.0.0.2', '--restart', 'no', '--log-opt', 'max-size=1m',
    '-v', '/data', '-v', '/host:/ctr:ro', '--network', 'mynet', 'busybox', 'sh', '-c', 'echo']);
  assert.equal(name, 'web');
  assert.equal(body.Image, 'busybox');
  assert.deepEqual(body.Cmd, ['sh', '-c', 'echo']);
  assert.equal(body.Tty, true);
  assert.equal(body.OpenStdin, true);
  assert.equal(body.AttachStdin, true);
  assert.equal(body.StdinOnce, true);
  assert.deepEqual(body.Env, ['A=1']);
  assert.equal(body.User, '1000');
  assert.equal(body.WorkingDir, '/srv');
  assert.equal(body.Hostname, 'box');
  assert.deepEqual(body.Labels, { k: 'v' });
  assert.equal(body.StopSignal, 'SIGINT');
  assert.equal(body.StopTimeout, 5);
  assert.deepEqual(body.Volumes, { '/data': {} });
  const hc = body.HostConfig!;
  assert.equal(hc.AutoRemove, true);
  assert.equal(hc.ReadonlyRootfs, true);
  assert.equal(hc.Init, true);
  assert.equal(hc.Privileged, true);
  assert.deepEqual(hc.CapAdd, ['NET_ADMIN']);
  assert.deepEqual(hc.CapDrop, ['ALL']);
  assert.deepEqual(hc.SecurityOpt, ['no-new-privileges']);
  assert.deepEqual(hc.Tmpfs, { '/run': 'size=1m' });
  assert.deepEqual(hc.ExtraHosts, ['db:10.0.0.2']);
  assert.deepEqual(hc.LogConfig?.Config, { 'max-size': '1m' });
  assert.deepEqual(hc.Binds, ['/host:/ctr:ro']);
  assert.equal(hc.NetworkMode, 'mynet');
  assert.deepEqual(Object.keys(body.NetworkingConfig?.EndpointsConfig ?? {}), ['mynet']);
});

test('detached runs attach nothing; --entrypoint "" resets it; defaults', () => {
  const { body } = build(['-d', '--entrypoint', '', 'img']);
  assert.equal(body.AttachStdout, false);
  assert.equal(body.AttachStderr, false);
  assert.deepEqual(body.Entrypoint, ['']);
  assert.equal(body.Cmd, null);
  assert.equal(body.HostConfig?.NetworkMode, 'default');
  assert.equal(body.HostConfig?.Init, null);
  assert.deepEqual(body.HostConfig?.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
  assert.equal(build(['img']).body.AttachStdout, true);
});

test('invalid combinations are rejected', () => {
  assert.throws(() => build(['--rm', '--restart', 'always', 'img']));
  assert.throws(() => build(['--restart', 'sometimes', 'img']));
  assert.throws(() => build(['-d', '-a', 'stdout', 'img']));
});

test('port specs like nat.ParsePortSpec', () => {
  assert.deepEqual(parsePortSpec('8080:80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '8080' } }]);
  assert.deepEqual(parsePortSpec('127.0.0.1:53:53/udp'), [{ port: '53/udp', binding: { HostIp: '127.0.0.1', HostPort: '53' } }]);
  assert.deepEqual(parsePortSpec('80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '' } }]);
  assert.deepEqual(parsePortSpec('8000-8001:80-81').map((x) => [x.port, x.binding.HostPort]), [['80/tcp', '8000'], ['81/tcp', '8001']]);
  assert.deepEqual(parsePortSpec('[::1]:8080:80'), [{ port: '80/tcp', binding: { HostIp: '::1', HostPort: '8080' } }]);
  assert.throws(() => parsePortSpec('80/xyz'));
});

test('start failures map to docker exit codes', () => {
  assert.equal(startErrorStatus('exec: "nope": executable file not found in $PATH'), 127);
  assert.equal(startErrorStatus('open /x: no such file or directory'), 127);
  assert.equal(startErrorStatus('exec /etc: permission denied'), 126);
  assert.equal(startErrorStatus('cgroup error'), 125);
});
