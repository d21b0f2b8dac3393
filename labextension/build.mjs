// Builds the prebuilt labextension with @jupyter/builder (what `jupyter labextension build`
// runs), against the JupyterLab core versions of the locked @jupyterlab/core-meta, so no Python
// is needed. Run `tsc` first (`npm run build` does both).
//
//   node build.mjs                 -> ../cogment_jupyter/labextension (package.json's outputDir)
//   node build.mjs --outdir DIR    -> DIR (the freshness test builds into a temp dir)
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

const args = process.argv.slice(2);
const at = args.indexOf('--outdir');
const pkg = require('./package.json');
if (at >= 0) {
  if (!args[at + 1]) {
    throw new Error('--outdir needs a directory');
  }
  // the builder reads outputDir from this (cached) module object
  pkg.jupyterlab.outputDir = path.relative(here, path.resolve(args[at + 1]));
}

const { rspack } = require('@rspack/core');
const generateConfig = require('@jupyter/builder/lib/extensionConfig').default;

process.chdir(here);
const config = generateConfig({
  packagePath: here,
  mode: 'production',
  corePackageFile: require.resolve('@jupyterlab/core-meta/core.package.json')
});

const stats = await new Promise((resolve, reject) => {
  rspack(config).run((error, result) => (error ? reject(error) : resolve(result)));
});
if (stats.hasErrors()) {
  console.error(stats.toString({ colors: false, all: false, errors: true }));
  process.exit(2);
}
const out = path.resolve(here, pkg.jupyterlab.outputDir);
console.log(`built ${pkg.name} into ${path.relative(process.cwd(), out) || '.'}`);
