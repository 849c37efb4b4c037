// Shared helpers of the Node tests (node --test wasm/tests/).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TARGET = process.env.CARGO_TARGET_DIR
  ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR)
  : path.join(ROOT, 'target');
export const PKG = path.join(ROOT, 'wasm/bindgen/pkg/domreg_wasm.js');
export const NOW = '2026-11-24T12:00:00Z';

/** The wasm-bindgen package (built by tests/run.sh; see wasm/README.md). */
export function loadPkg() {
  if (!existsSync(PKG)) {
    throw new Error(`${PKG} is missing: build it first (wasm/README.md, "Building")`);
  }
  return createRequire(import.meta.url)(PKG);
}

/** A binary of the workspace, built by `cargo build`. */
export function binary(name) {
  const p = path.join(TARGET, 'debug', name);
  if (!existsSync(p)) throw new Error(`${p} is missing: run cargo build -p ${name === 'domreg' ? 'domreg' : name}`);
  return p;
}

/** Split a file's text into lines as `domreg enrich` does (on \n; a last line without \n counts). */
export function splitLines(text) {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}
