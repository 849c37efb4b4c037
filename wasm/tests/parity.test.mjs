// The WASM Enricher writes byte for byte what `domreg enrich --offline`
// writes, for every example log, from the same registration data.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { NOW, ROOT, binary, loadPkg, splitLines } from './common.mjs';

const { Enricher } = loadPkg();
const REGISTRATIONS = path.join(ROOT, 'examples/registrations.jsonl');
const LOGS = path.join(ROOT, 'examples/logs');

function cli(file, extra = []) {
  return execFileSync(
    binary('domreg'),
    ['enrich', '--offline', '--registrations', REGISTRATIONS, '--now', NOW, '--quiet', ...extra, file],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 },
  );
}

function wasm(file, options = {}) {
  const e = new Enricher(JSON.stringify({ now: NOW, ...options }));
  assert.equal(e.loadRegistrations(readFileSync(REGISTRATIONS, 'utf8')), 6);
  let out = '';
  for (const line of splitLines(readFileSync(file, 'utf8'))) out += e.enrich(line) + '\n';
  const stats = e.stats();
  e.free();
  return { out, stats };
}

function assertSame(file, expected, got) {
  const want = expected.split('\n');
  const have = got.split('\n');
  for (let i = 0; i < Math.max(want.length, have.length); i++) {
    assert.equal(have[i], want[i], `${path.basename(file)} line ${i + 1}`);
  }
  assert.equal(got, expected);
}

const files = readdirSync(LOGS).sort();

test('there are example logs', () => assert.ok(files.length >= 10, files.join(' ')));

for (const name of files) {
  test(`parity with domreg enrich: ${name}`, () => {
    const file = path.join(LOGS, name);
    const { out, stats } = wasm(file);
    assertSame(file, cli(file), out);
    assert.equal(stats.enricher.lines_in, splitLines(readFileSync(file, 'utf8')).length);
  });
}

test('parity with a configuration: TOML for the CLI, the same model as JSON for WASM', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'domreg-wasm-'));
  try {
    const toml = path.join(dir, 'config.toml');
    writeFileSync(
      toml,
      '[rules.newly_registered]\ndays = 4000\n[rules.privacy]\nenabled = false\n' +
        '[input]\nfields = ["id.orig_h"]\n',
    );
    const options = {
      rules: { newly_registered: { days: 4000 }, privacy: { enabled: false } },
      input: { fields: ['id.orig_h'] },
    };
    for (const name of ['rules-demo.ndjson', 'zeek-dns.ndjson', 'bind-query.log']) {
      const file = path.join(LOGS, name);
      const expected = cli(file, ['--config', toml]);
      assertSame(file, expected, wasm(file, options).out);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad configuration throws an Error naming the key', () => {
  assert.throws(() => new Enricher('{"rules":{"newly_registerd":{}}}'), /newly_registerd/);
  assert.throws(() => new Enricher('{"cache":{"max_entries":-1}}'), /cache/);
  assert.throws(() => new Enricher('nope'), /not JSON/);
  assert.throws(() => new Enricher('{"now":"tomorrow"}'), /not a time/);
});

test('setNow changes the time of events without a timestamp', () => {
  const line = '24-Nov-2026 09:00:00.000 queries: info: client @0x1 10.0.0.1#5353 (www.nic.xyz): query: www.nic.xyz IN A + (10.0.0.2)';
  const e = new Enricher();
  e.loadRegistrations(readFileSync(REGISTRATIONS, 'utf8'));
  e.setNow('2013-09-20T00:00:00Z');
  const early = e.enrich(line);
  e.setNow('2026-11-24T00:00:00Z');
  const late = e.enrich(line);
  assert.notEqual(early, late);
  e.setNow(undefined);
  assert.match(e.enrich(line), /"lookup":"hit"/);
});
