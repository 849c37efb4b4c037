#!/usr/bin/env python3
"""Synthetic benchmark traces for benches/run.sh (standard library only).

Writes into OUTDIR:

  mixed.log             1,000,000 events: Zeek dns, Suricata dns (v3) and tls,
                        ECS dns, Squid access.log lines, interleaved
  zeek-dns.ndjson       1,000,000 Zeek dns.log JSON lines (~500 bytes each)
  fmt-<format>.log      100,000 lines of one format each (per-format throughput)
  registrations.jsonl   a record for every registered domain (warm run: all hits)
  rss-<N>.jsonl         N registration records (peak RSS against records loaded)
  one.ndjson            one Zeek dns line whose domain is in every rss file
  traces.json           what was generated (sizes, mixes), for the report

Each line is built from the shape of a real sample in tests/fixtures/samples/
or examples/logs/ (the same keys in the same order, values replaced). Names
are drawn Zipf(s=1.0) over 200,000 FQDNs under 50,000 registered domains
(rank order shuffled, so popularity is not tied to the domain's index), with
skip cases mixed in: reverse lookups, .local names and IP literals.

Usage: trace.py OUTDIR [--events N] [--seed S]
"""

import argparse
import bisect
import itertools
import json
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FQDNS = 200_000
DOMAINS = 50_000
PER_FORMAT = 100_000
RSS_SIZES = (100_000, 1_000_000)
VERSION = 2  # bump when the output changes, to regenerate cached traces

# Registered-domain suffixes and their shares.
SUFFIXES = [
    ("com", 50), ("net", 10), ("org", 8), ("de", 7), ("co.uk", 6), ("io", 5),
    ("xyz", 4), ("fr", 4), ("info", 3), ("com.au", 3),
]
SUBDOMAINS = [
    "", "www", "api", "cdn", "mail", "login", "static", "img", "m", "ns1",
    "telemetry.eu", "edge-1.fra", "auth", "update", "assets", "app", "docs",
    "smtp", "vpn", "shop",
]
REGISTRARS = [
    ("MarkMonitor Inc.", 292), ("GoDaddy.com, LLC", 146), ("NameCheap, Inc.", 1068),
    ("Tucows Domains Inc.", 69), ("CSC Corporate Domains, Inc.", 299),
    ("Gandi SAS", 81), ("PDR Ltd. d/b/a PublicDomainRegistry.com", 303),
    ("CentralNic Ltd", 9999), ("Key-Systems GmbH", 269), ("Cloudflare, Inc.", 1910),
]
STATUS_SETS = [
    ["clientTransferProhibited"],
    ["clientDeleteProhibited", "clientTransferProhibited", "clientUpdateProhibited"],
    ["serverDeleteProhibited", "serverTransferProhibited", "serverUpdateProhibited"],
    ["active"],
    ["clientHold"],
]
SYLLABLES = ["ka", "lo", "mi", "ne", "ra", "tu", "vo", "zi", "pe", "sa", "do",
             "gri", "fla", "bex", "qui", "mon", "tar", "vel", "yu", "cho"]


def sample(path, needle):
    """The first line of a real sample file containing `needle`."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        for line in f:
            if needle in line:
                return line.rstrip("\n")
    sys.exit(f"trace.py: no line with {needle!r} in {path}")


def template(obj, path_values):
    """Dump `obj` compactly with the values at `path_values` replaced by
    placeholders; returns the text, to be filled with str.replace."""
    for path, value in path_values:
        node = obj
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def load_templates():
    """Templates from the real samples, with @NAME@, @TS@, @N@ ... slots."""
    t = {}
    zeek = json.loads(sample("tests/fixtures/samples/zeek-dns.ndjson", '"query"'))
    t["zeek_dns"] = template(zeek, [
        (["_write_ts"], "@TS@"), (["ts"], "@TS@"), (["uid"], "@UID@"),
        (["id.orig_h"], "@IP@"), (["id.orig_p"], 0), (["trans_id"], 0),
        (["query"], "@NAME@"), (["answers"], ["@ANSWER@", "@ANSIP@"]),
    ]).replace('"id.orig_p":0', '"id.orig_p":@N@').replace('"trans_id":0', '"trans_id":@M@')
    sdns = json.loads(sample("examples/logs/suricata-dns-v3.ndjson", '"type":"response"'))
    t["suricata_dns"] = template(sdns, [
        (["timestamp"], "@STS@"), (["flow_id"], 0), (["src_ip"], "10.0.0.1"),
        (["dest_ip"], "@IP@"), (["dns", "queries"], [{"rrname": "@NAME@", "rrtype": "A"}]),
        (["dns", "answers"], [{"rrname": "@NAME@", "rrtype": "CNAME", "ttl": 300,
                               "rdata": "@ANSWER@"}]),
    ]).replace('"flow_id":0', '"flow_id":@N@')
    stls = json.loads(sample("tests/fixtures/samples/suricata-eve-http-tls.ndjson",
                             '"event_type":"tls"'))
    t["suricata_tls"] = template(stls, [
        (["timestamp"], "@STS@"), (["flow_id"], 0), (["src_ip"], "@IP@"),
        (["tls", "sni"], "@NAME@"), (["tls", "subject"], "CN=@NAME@, O=Example Inc., C=US"),
    ]).replace('"flow_id":0', '"flow_id":@N@')
    ecs = json.loads(sample("tests/fixtures/samples/ecs-dns.ndjson", '"question"'))
    t["ecs_dns"] = template(ecs, [
        (["@timestamp"], "@TS@"), (["dns", "question", "name"], "@NAME@"),
        (["dns", "answers"], [{"data": "@ANSWER@", "type": "CNAME"},
                              {"data": "@ANSIP@", "type": "A"}]),
        (["dns", "grouped", "ip"], ["@ANSIP@"]), (["winlog", "record_id"], 0),
    ]).replace('"record_id":0', '"record_id":@N@')
    sysmon = json.loads(sample("tests/fixtures/samples/sysmon-eid22.ndjson", "QueryName"))
    sysmon["message"] = "Dns query:\nRuleName: \nUtcTime: @UTS@\nQueryName: @NAME@\nQueryStatus: 0"
    t["sysmon"] = template(sysmon, [
        (["@timestamp"], "@TS@"), (["winlog", "event_data", "QueryName"], "@NAME@"),
        (["winlog", "event_data", "QueryResults"], "::ffff:@ANSIP@;"),
        (["winlog", "record_id"], 0),
    ]).replace('"record_id":0', '"record_id":@N@')
    # Text formats: the real lines' shapes.
    t["squid"] = "@EPOCH@    215 @IP@ TCP_TUNNEL/200 5120 CONNECT @NAME@:443 - HIER_DIRECT/@ANSIP@ -"
    t["squid_get"] = ("@EPOCH@     87 @IP@ TCP_MISS/200 4123 GET http://@NAME@/index.html"
                      " - HIER_DIRECT/@ANSIP@ text/html")
    t["bind"] = ("<30>Nov 24 00:00:00 ns1 named[11042]: 24-Nov-2026 00:00:00.043 client"
                 " @IP@#57398 UDP: query: @NAME@ IN A response: NOERROR +ED @NAME@ 28800 IN A @ANSIP@;")
    return t


def make_domains(rng):
    names, seen = [], set()
    suffixes = [s for s, _ in SUFFIXES]
    weights = [w for _, w in SUFFIXES]
    while len(names) < DOMAINS:
        label = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        label += str(rng.randrange(1000))
        name = f"{label}.{rng.choices(suffixes, weights)[0]}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def make_fqdns(rng, domains):
    fqdns = []
    for d in domains:
        for sub in rng.sample(SUBDOMAINS, 4):
            fqdns.append(f"{sub}.{d}" if sub else d)
    rng.shuffle(fqdns)  # rank order for the Zipf draw
    return fqdns


class Names:
    """Zipf(1.0) draws over the FQDNs, with skip cases mixed in."""

    def __init__(self, rng, fqdns, allow_reverse=True):
        self.rng, self.fqdns, self.allow_reverse = rng, fqdns, allow_reverse
        self.cum = list(itertools.accumulate(1.0 / (k + 1) for k in range(len(fqdns))))
        self.skips = {"reverse_lookup": 0, "special_use": 0, "ip_literal": 0}

    def draw(self):
        r = self.rng.random()
        if self.allow_reverse and r < 0.05:
            self.skips["reverse_lookup"] += 1
            a = [self.rng.randrange(1, 255) for _ in range(4)]
            return f"{a[3]}.{a[2]}.{a[1]}.{a[0]}.in-addr.arpa"
        if r < 0.08:
            self.skips["special_use"] += 1
            return f"host-{self.rng.randrange(500)}.local"
        if r < 0.09:
            self.skips["ip_literal"] += 1
            return f"192.0.2.{self.rng.randrange(1, 255)}"
        i = bisect.bisect_left(self.cum, self.rng.random() * self.cum[-1])
        return self.fqdns[min(i, len(self.fqdns) - 1)]


def fill(tpl, rng, i, name):
    day, hms = "2026-11-24", f"{(i // 3_600_000) % 24:02d}:{(i // 60_000) % 60:02d}:{(i // 1000) % 60:02d}"
    # Each format's own form: Zeek and ECS in UTC with `Z`, Suricata with
    # a numeric offset, Sysmon's UtcTime with a space and milliseconds.
    return (tpl.replace("@NAME@", name)
               .replace("@TS@", f"{day}T{hms}.{i % 1000:03d}123Z")
               .replace("@STS@", f"{day}T{hms}.{i % 1000:03d}123+0000")
               .replace("@UTS@", f"{day} {hms}.{i % 1000:03d}")
               .replace("@EPOCH@", f"{1795478400 + i // 1000}.{i % 1000:03d}")
               .replace("@UID@", f"C{rng.getrandbits(64):016x}"[:18])
               .replace("@IP@", f"10.{i % 7}.{(i >> 3) % 250}.{i % 250 + 1}")
               .replace("@ANSWER@", f"edge-{i % 97}.cdn.example-cdn.net")
               .replace("@ANSIP@", f"203.0.113.{i % 250 + 1}")
               .replace("@N@", str(rng.randrange(1024, 65535)))
               .replace("@M@", str(rng.randrange(65536))))


# Formats of the mixed trace and their shares.
MIX = [("zeek_dns", 50), ("suricata_dns", 15), ("suricata_tls", 10), ("ecs_dns", 15), ("squid", 10)]
PER_FORMAT_NAMES = ["zeek_dns", "suricata_dns", "suricata_tls", "ecs_dns", "sysmon", "squid", "bind"]


def line_for(fmt, templates, rng, i, names):
    if fmt == "squid":
        tpl = templates["squid"] if rng.random() < 0.6 else templates["squid_get"]
    else:
        tpl = templates[fmt]
    return fill(tpl, rng, i, names.draw())


def write_trace(path, formats, n, templates, rng, names):
    kinds = [f for f, _ in formats]
    weights = [w for _, w in formats]
    counts = dict.fromkeys(kinds, 0)
    size = 0
    with open(path, "w", encoding="utf-8") as f:
        buf = []
        for i, fmt in enumerate(rng.choices(kinds, weights, k=n)):
            counts[fmt] += 1
            line = line_for(fmt, templates, rng, i, names) + "\n"
            size += len(line.encode())
            buf.append(line)
            if len(buf) >= 10_000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
    return {"file": os.path.basename(path), "events": n, "bytes": size,
            "mean_line_bytes": round(size / n, 1), "formats": counts}


def record(rng, domain, fetched="2026-11-24T00:00:00Z"):
    """A registration record in the --registrations schema."""
    if rng.random() < 0.05:  # newly registered
        year, month, day = 2026, rng.randint(10, 11), rng.randint(1, 20)
    else:
        year, month, day = rng.randint(1995, 2025), rng.randint(1, 12), rng.randint(1, 28)
    registrar, iana = rng.choice(REGISTRARS)
    return json.dumps({
        "domain": domain,
        "created": f"{year}-{month:02d}-{day:02d}T10:00:00Z",
        "expires": f"{max(year + rng.randint(1, 10), 2027)}-{month:02d}-{day:02d}T10:00:00Z",
        "updated": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 20):02d}T00:00:00Z",
        "status": rng.choice(STATUS_SETS),
        "registrar": registrar,
        "registrar_iana_id": iana,
        "nameservers": [f"ns1.{domain}", f"ns2.{domain}"],
        "privacy": rng.random() < 0.4,
        "source": "rdap",
        "fetched": fetched,
    }, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=20261124)
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    meta_path = os.path.join(args.outdir, "traces.json")
    params = {"version": VERSION, "events": args.events, "seed": args.seed}
    try:
        with open(meta_path, encoding="utf-8") as f:
            if json.load(f).get("params") == params:
                print(f"trace.py: {args.outdir} is up to date", file=sys.stderr)
                return
    except (OSError, ValueError):
        pass

    rng = random.Random(args.seed)
    templates = load_templates()
    domains = make_domains(rng)
    fqdns = make_fqdns(rng, domains)
    meta = {"params": params, "fqdns": len(fqdns), "registered_domains": len(domains),
            "traces": {}}

    def trace(key, path, formats, n, allow_reverse=True):
        names = Names(rng, fqdns, allow_reverse)
        info = write_trace(os.path.join(args.outdir, path), formats, n, templates, rng, names)
        info["skips"] = names.skips
        meta["traces"][key] = info
        print(f"trace.py: {path}: {n} events, {info['bytes'] / 1e6:.0f} MB", file=sys.stderr)

    trace("mixed", "mixed.log", MIX, args.events)
    trace("zeek_dns", "zeek-dns.ndjson", [("zeek_dns", 1)], args.events)
    for fmt in PER_FORMAT_NAMES:
        # No reverse lookups in TLS SNI or proxy logs.
        trace(f"fmt_{fmt}", f"fmt-{fmt}.log", [(fmt, 1)], PER_FORMAT,
              allow_reverse=fmt not in ("suricata_tls", "squid"))

    with open(os.path.join(args.outdir, "registrations.jsonl"), "w", encoding="utf-8") as f:
        f.writelines(record(rng, d) + "\n" for d in domains)
    meta["registrations"] = len(domains)

    for n in RSS_SIZES:
        with open(os.path.join(args.outdir, f"rss-{n}.jsonl"), "w", encoding="utf-8") as f:
            for start in range(0, n, 10_000):
                f.write("".join(record(rng, f"rss-{i}-{SYLLABLES[i % 20]}.com") + "\n"
                                for i in range(start, min(n, start + 10_000))))
        meta[f"rss_{n}_bytes"] = os.path.getsize(os.path.join(args.outdir, f"rss-{n}.jsonl"))
    with open(os.path.join(args.outdir, "one.ndjson"), "w", encoding="utf-8") as f:
        f.write(fill(templates["zeek_dns"], rng, 0, "www.rss-1-lo.com") + "\n")

    with open(meta_path, "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
