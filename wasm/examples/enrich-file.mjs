#!/usr/bin/env node
// Enrich a log file with the domreg WASM package, looking domains up over
// RDAP with Node's own fetch. See wasm/README.md.
//
//   node wasm/examples/enrich-file.mjs LOGFILE [--bootstrap dns.json] [--allow-http]
//        [--registrations FILE] [--now TIME] [--batch N] [--concurrency N]
//        [--host-delay MS] [--timeout MS]
//
// Enriched lines go to stdout, one per input line, in order; a summary
// (the enricher's and the cache's counters) goes to stderr.
//
// It works in batches: render the batch (which collects the registered
// domains the cache lacks), fetch those over RDAP (registry, then the
// registrar the registry's `related` link points at) with a small
// concurrency limit and a delay between requests to the same host, store
// the answers in the Enricher, then enrich the batch for real and print it.

import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

const require = createRequire(import.meta.url);
const PKG = process.env.DOMREG_WASM_PKG ?? '../bindgen/pkg/domreg_wasm.js';
const { Enricher, RdapBootstrap } = require(PKG);

const USAGE =
  'usage: enrich-file.mjs LOGFILE [--bootstrap dns.json] [--allow-http] [--registrations FILE]\n' +
  '                       [--now TIME] [--batch N] [--concurrency N] [--host-delay MS] [--timeout MS]';

function parseArgs(argv) {
  const opts = {
    file: null,
    bootstrap: null,
    allowHttp: false,
    registrations: null,
    now: null,
    batch: 500,
    concurrency: 4,
    hostDelay: 500,
    timeout: 10000,
  };
  const number = (flag, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: not a whole number: ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--bootstrap': opts.bootstrap = value(); break;
      case '--allow-http': opts.allowHttp = true; break;
      case '--registrations': opts.registrations = value(); break;
      case '--now': opts.now = value(); break;
      case '--batch': opts.batch = Math.max(1, number(arg, value())); break;
      case '--concurrency': opts.concurrency = Math.max(1, number(arg, value())); break;
      case '--host-delay': opts.hostDelay = number(arg, value()); break;
      case '--timeout': opts.timeout = Math.max(1, number(arg, value())); break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default:
        if (arg.startsWith('-') || opts.file !== null) throw new Error(`unexpected argument ${arg}`);
        opts.file = arg;
    }
  }
  if (opts.file === null) throw new Error('no LOGFILE given');
  return opts;
}

/** Lines of a file, split on \n only (a \r stays, as with `domreg enrich`). */
async function* lines(path) {
  let rest = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8' })) {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop();
    yield* parts;
  }
  if (rest.length > 0) yield rest;
}

/** Fetches RDAP answers and stores them in the Enricher. */
class Fetcher {
  constructor(enricher, bootstrap, opts) {
    this.enricher = enricher;
    this.bootstrap = bootstrap;
    this.opts = opts;
    this.nextAt = new Map(); // host -> earliest time of its next request
    this.requests = 0;
  }

  allowed(url) {
    try {
      const { protocol } = new URL(url);
      return protocol === 'https:' || (this.opts.allowHttp && protocol === 'http:');
    } catch {
      return false;
    }
  }

  /** One GET, spaced from the previous one to the same host. */
  async get(url) {
    if (!this.allowed(url)) return { error: 'refused_url' };
    const host = new URL(url).host;
    const start = Math.max(Date.now(), this.nextAt.get(host) ?? 0);
    this.nextAt.set(host, start + this.opts.hostDelay);
    await sleep(start - Date.now());
    this.requests++;
    try {
      const res = await fetch(url, {
        headers: { accept: 'application/rdap+json, application/json', 'user-agent': 'domreg-wasm-example' },
        redirect: 'follow',
        signal: AbortSignal.timeout(this.opts.timeout),
      });
      if (!this.allowed(res.url)) return { error: 'refused_url' };
      return { status: res.status, body: await res.text() };
    } catch (e) {
      return { error: e?.name === 'TimeoutError' ? 'timeout' : 'connect' };
    }
  }

  /** Look `domain` up and store the answer (or the error). */
  async lookup(domain) {
    const e = this.enricher;
    const url = this.bootstrap.queryUrl(domain);
    const server = this.bootstrap.baseUrl(domain);
    if (!url) return e.ingestError(domain, 'no_rdap_server');
    const res = await this.get(url);
    if (res.error) return e.ingestError(domain, res.error);
    if (res.status === 404 && res.body.trim() === '') return e.ingestNotFound(domain, server);
    if (res.status !== 200 && res.status !== 404) return e.ingestError(domain, `http_${res.status}`);
    let referral;
    try {
      // A 404 with an RDAP error body stores "not registered".
      referral = e.ingestRdap(domain, res.body, undefined, server);
    } catch {
      return res.status === 404 ? e.ingestNotFound(domain, server) : e.ingestError(domain, 'bad_response');
    }
    if (!referral) return;
    // The registrar's answer fills what the registry lacks; on any failure
    // the registry's record (already stored) stays.
    const more = await this.get(referral);
    if (more.status === 200) {
      try {
        e.ingestRdap(domain, res.body, more.body, server);
      } catch {
        // unusable registrar answer: keep the registry's record
      }
    }
  }

  /** Look up every domain, at most `concurrency` at a time. */
  async lookupAll(domains) {
    const queue = [...domains];
    const worker = async () => {
      while (queue.length > 0) await this.lookup(queue.shift());
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, queue.length) }, worker));
  }
}

async function write(text) {
  if (!process.stdout.write(text)) await new Promise((resolve) => process.stdout.once('drain', resolve));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const enricher = new Enricher(opts.now ? JSON.stringify({ now: opts.now }) : undefined);
  const bootstrap = new RdapBootstrap(opts.bootstrap ? await readFile(opts.bootstrap, 'utf8') : undefined);
  if (opts.registrations) {
    enricher.loadRegistrations(await readFile(opts.registrations, 'utf8'));
    for (const message of enricher.loadErrors()) console.error(`${opts.registrations}: ${message}`);
  }
  const fetcher = new Fetcher(enricher, bootstrap, opts);

  let batch = [];
  const flush = async () => {
    for (const line of batch) enricher.render(line);
    const domains = enricher.pending();
    if (domains.length > 0) await fetcher.lookupAll(domains);
    let out = '';
    for (const line of batch) out += enricher.enrich(line) + '\n';
    batch = [];
    await write(out);
  };
  for await (const line of lines(opts.file)) {
    batch.push(line);
    if (batch.length >= opts.batch) await flush();
  }
  await flush();
  console.error(JSON.stringify({ ...enricher.stats(), rdap_requests: fetcher.requests }));
}

main().catch((e) => {
  console.error(`enrich-file: ${e.message}`);
  process.exit(2);
});
