import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyConfigChanges } from './config-changes';
import { isKind } from '../base/errors';

test('--change lines update the config as Docker does', () => {
  const cfg = applyConfigChanges({ Env: ['A=1'], Cmd: ['sh'] }, [
    'CMD ["echo", "hi"]', 'ENTRYPOINT /bin/run me', 'ENV A=2 B="x y"', 'ENV C 3', 'LABEL k=v',
    'EXPOSE 80 53/udp', 'USER nobody', 'WORKDIR /srv', 'VOLUME /data', 'STOPSIGNAL SIGINT',
  ]);
  assert.deepEqual(cfg.Cmd, ['echo', 'hi']);
  assert.deepEqual(cfg.Entrypoint, ['/bin/sh', '-c', '/bin/run me']);
  assert.deepEqual(cfg.Env, ['A=2', 'B=x y', 'C=3']);
  assert.deepEqual(cfg.Labels, { k: 'v' });
  assert.deepEqual(cfg.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  assert.equal(cfg.User, 'nobody');
  assert.equal(cfg.WorkingDir, '/srv');
  assert.deepEqual(cfg.Volumes, { '/data': {} });
  assert.equal(cfg.StopSignal, 'SIGINT');
});

test('--change refuses instructions Docker refuses', () => {
  assert.throws(() => applyConfigChanges({}, ['RUN echo x']), (e) => isKind(e, 'InvalidArgument'));
  assert.throws(() => applyConfigChanges({}, ['FROM busybox']), (e) => isKind(e, 'InvalidArgument'));
});
