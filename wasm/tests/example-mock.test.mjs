// The example script against the loopback RDAP server tests/rdap-mock
// (real fixture responses): live lookups give the same events as the
// offline CLI run on registration data built from those responses.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

import { NOW, ROOT, binary, splitLines } from './common.mjs';

const SCRIPT = path.join(ROOT, 'wasm/examples/enrich-file.mjs');
const ZEEK_GOOGLE = splitLines(readFileSync(path.join(ROOT, 'examples/logs/zeek-dns.ndjson'), 'utf8')).find((l) =>
  l.includes('"query":"www.google.com"'),
);

let mock;
let hosts;
let dir;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'domreg-wasm-mock-'));
  mock = spawn(binary('rdap-mock'), [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const first = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: mock.stdout });
    rl.once('line', (line) => { rl.close(); resolve(line); });
    mock.once('exit', (code) => reject(new Error(`rdap-mock exited with ${code}`)));
  });
  hosts = JSON.parse(first).listening;
  assert.equal(hosts.length, 2);
});

after(() => {
  mock?.stdin.end(); // rdap-mock stops when its stdin closes
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function control(route) {
  const res = await fetch(`http://${hosts[0]}/_control/${route}`);
  assert.equal(res.status, 200, route);
  return res.text();
}

test('the example enriches a log over RDAP from the loopback mock', async () => {
  const bootstrap = path.join(dir, 'dns.json');
  writeFileSync(bootstrap, await control('bootstrap'));
  // Real events: the rules demo (six domains, one of them unknown to the
  // mock) and a real Zeek query for www.google.com, twice.
  const log = path.join(dir, 'events.ndjson');
  const demo = readFileSync(path.join(ROOT, 'examples/logs/rules-demo.ndjson'), 'utf8');
  writeFileSync(log, `${demo}${ZEEK_GOOGLE}\n${ZEEK_GOOGLE}\n`);
  const inputs = splitLines(readFileSync(log, 'utf8'));

  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    [SCRIPT, log, '--bootstrap', bootstrap, '--allow-http', '--now', NOW, '--host-delay', '20', '--batch', '4'],
    { cwd: ROOT, encoding: 'utf8', timeout: 60000 },
  );
  const outputs = splitLines(stdout);
  assert.equal(outputs.length, inputs.length);
  const events = outputs.map((l) => JSON.parse(l));

  // www.google.com: the Verisign answer merged with MarkMonitor's.
  const google = events.filter((e) => e.domreg?.domain === 'google.com');
  assert.equal(google.length, 3);
  for (const e of google) {
    assert.equal(e.domreg.lookup, 'hit');
    assert.equal(e.domreg.registration.registrar, 'MarkMonitor Inc.');
    assert.equal(e.domreg.registration.registrar_iana_id, 292);
    assert.equal(e.domreg.registration.created, '1997-09-15T04:00:00Z');
  }
  // verisign.com has no fixture: 404 with an empty body, "not registered".
  const verisign = events.find((e) => e.domreg?.domain === 'verisign.com');
  assert.equal(verisign.domreg.lookup, 'not_found');

  // Every hit is byte-identical to the offline CLI's line for the same
  // event from examples/registrations.jsonl (built from the same fixtures).
  const offline = splitLines(
    execFileSync(
      binary('domreg'),
      ['enrich', '--offline', '--registrations', 'examples/registrations.jsonl', '--now', NOW, '--quiet', log],
      { cwd: ROOT, encoding: 'utf8' },
    ),
  );
  let hits = 0;
  events.forEach((e, i) => {
    if (e.domreg.lookup === 'hit') {
      hits++;
      assert.equal(outputs[i], offline[i], `line ${i + 1}`);
    }
  });
  assert.equal(hits, inputs.length - 1);

  // One registry request per domain, one registrar request for google.com.
  const requests = JSON.parse(await control('log'));
  const registry = requests.filter((r) => r.host === 0).map((r) => r.domain).sort();
  assert.deepEqual(registry, [
    'example.cz', 'google.com', 'microsoft.click', 'nic.xyz', 'verisign.com', 'wicar.org',
  ]);
  const registrar = requests.filter((r) => r.host === 1 && r.domain === 'google.com');
  assert.equal(registrar.length, 1);
  assert.equal(registrar[0].source, 'markmonitor-registrar-google.com.json');

  const stats = JSON.parse(splitLines(stderr).at(-1));
  assert.equal(stats.enricher.lines_in, inputs.length);
  assert.equal(stats.enricher.lookups.hit, inputs.length - 1);
  assert.equal(stats.cache.entries, 6);
});

test('without --allow-http the example refuses http RDAP servers', async () => {
  const bootstrap = path.join(dir, 'dns.json');
  writeFileSync(bootstrap, await control('bootstrap'));
  const log = path.join(dir, 'one.ndjson');
  writeFileSync(log, `${ZEEK_GOOGLE}\n`);
  const before = JSON.parse(await control('log')).length;
  const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, log, '--bootstrap', bootstrap], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60000,
  });
  const e = JSON.parse(stdout);
  assert.equal(e.domreg.lookup, 'error');
  assert.equal(e.domreg.error, 'refused_url');
  assert.equal(JSON.parse(await control('log')).length, before, 'no request sent');
});
