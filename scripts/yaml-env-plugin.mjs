// An esbuild plugin for bundles that parse specs: `yaml` checks two debugging switches of its own,
// `process.env.LOG_TOKENS` (in its parser, at every token) and `process.env.LOG_STREAM` (in its
// composer). Reading `process.env` goes through a native interceptor, and that read was about a
// quarter of parsing a spec (docs/decisions/0065-one-yaml-parser.md). In the bundle, `yaml`'s
// `process` is the real one with an empty `env`, so both switches are off; its warnings still go
// to `process.emitWarning`.
const NAMESPACE = 'yaml-process';

export const yamlEnvPlugin = {
  name: 'yaml-env',
  setup(build) {
    build.onResolve({ filter: /^(node:)?process$/ }, ({ importer }) =>
      /[\\/]node_modules[\\/]yaml[\\/]/.test(importer) ? { path: 'process', namespace: NAMESPACE } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: NAMESPACE }, () => ({
      contents: 'module.exports = Object.create(process, { env: { value: Object.freeze({}) } });',
      loader: 'js',
    }));
  },
};
