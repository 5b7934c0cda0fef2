// The layering of ../shared/DESIGN.md section 4, checked in CI: a layer imports only layers below it.
// Order, bottom first. cli/compose/cluster reach the engine only through client/.
const order = ['base', 'oci', 'sys', 'security', 'archive', 'snapshot', 'image', 'runtime', 'network', 'volume',
  'build', 'registry', 'daemon', 'api', 'client', 'cli', 'compose', 'cluster', 'cmd'];
const frontEnds = ['cli', 'compose', 'cluster'];
const engine = ['sys', 'security', 'archive', 'snapshot', 'image', 'runtime', 'network', 'volume', 'build', 'registry', 'daemon', 'api'];

const forbidden = [];
order.forEach((layer, i) => {
  const above = order.slice(i + 1);
  if (above.length) {
    forbidden.push({
      name: `${layer}-not-above`,
      comment: `${layer}/ must not import layers above it (${above.join(', ')})`,
      severity: 'error',
      from: { path: `^src/${layer}/` },
      to: { path: `^src/(${above.join('|')})/` },
    });
  }
});
forbidden.push({
  name: 'front-ends-through-client',
  comment: 'cli/, compose/ and cluster/ reach the engine only through client/',
  severity: 'error',
  from: { path: `^src/(${frontEnds.join('|')})/` },
  to: { path: `^src/(${engine.join('|')})/` },
});
forbidden.push({
  name: 'client-not-engine',
  comment: 'client/ speaks HTTP to an engine; it never imports one',
  severity: 'error',
  from: { path: '^src/client/' },
  to: { path: `^src/(${engine.join('|')})/` },
});
forbidden.push({ name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } });

module.exports = {
  forbidden,
  options: { doNotFollow: { path: 'node_modules' }, tsConfig: { fileName: 'tsconfig.json' }, exclude: { path: '\\.test\\.ts$' } },
};
