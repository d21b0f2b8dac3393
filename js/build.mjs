// Bundle the widgets' TypeScript into the Python package (one ES module + one CSS file each).
// Deterministic on purpose: tests/test_js.py rebuilds into a temp dir and compares bytes.
//   node build.mjs                 -> ../cogment_jupyter/notebook/static
//   node build.mjs --outdir DIR    -> DIR
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const i = args.indexOf("--outdir");
const outdir = i >= 0 ? path.resolve(args[i + 1]) : path.resolve(here, "../cogment_jupyter/notebook/static");

await build({
  absWorkingDir: here,
  entryPoints: { play: "src/play.ts" },
  outdir,
  bundle: true,
  format: "esm",
  target: ["es2022"],
  minify: true,
  sourcemap: false,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
});
console.log(`built play.js, play.css -> ${path.relative(process.cwd(), outdir) || "."}`);
