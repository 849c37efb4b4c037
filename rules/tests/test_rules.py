"""Run the Sigma rules in rules/sigma/ over domreg's real output.

    target/sigma-venv/bin/python -m unittest discover -s rules/tests -v

(tests/run.sh does this after installing rules/requirements.txt.)

The examples in examples/logs/ are enriched by the real binary
(target/debug/domreg, or $DOMREG), offline from examples/registrations.jsonl,
with --now fixed. The output goes into SQLite tables, one per Sigma log
source category (`dns`, `proxy`), as a SIEM files events into indexes; each
rule is converted by pySigma's SQLite backend (with the shipped
pipelines/zeek.yml for the source host) and run there. Correlation rules run
through the backend's own correlation plan and executor (sliding windows over
`ts`). The tests assert which events each rule matches, by file, line and
Zeek uid / query / message, so every other event in the table is asserted
not to match.

SQLite has no arrays: list values (domreg.risk.reasons,
domreg.registration.status, threat.*) are stored as JSON text, and a field
that holds lists is matched element by element with json_each, which is how
Elasticsearch and Splunk match a multi-valued field.
"""

import filecmp
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import yaml
from sigma.backends.sqlite import sqliteBackend
from sigma.backends.sqlite.runtime import execute_plan
from sigma.collection import SigmaCollection
from sigma.conditions import ConditionFieldEqualsValueExpression
from sigma.correlations import SigmaCorrelationRule
from sigma.processing.pipeline import ProcessingPipeline

RULES = Path(__file__).resolve().parents[1]
ROOT = RULES.parent
LOGS = ROOT / "examples" / "logs"
DOMREG = os.environ.get("DOMREG") or str(ROOT / "target" / "debug" / "domreg")
NOW = "2026-11-24T12:00:00Z"

# The log source category of each example file (Suricata's eve.json mixes
# them: its events go by event_type).
CATEGORY = {
    "bind-query.log": "dns",
    "coredns.log": "dns",
    "dnsmasq.log": "dns",
    "ecs-dns.ndjson": "dns",
    "route53.ndjson": "dns",
    "rules-burst.ndjson": "dns",
    "rules-demo.ndjson": "dns",
    "suricata-dns-v3.ndjson": "dns",
    "sysmon-eid22.ndjson": "dns",
    "zeek-dns.ndjson": "dns",
    "rules-demo-ssl.ndjson": "proxy",
    "squid-access.log": "proxy",
    "zeek-http.ndjson": "proxy",
    "zeek-ssl.ndjson": "proxy",
    "suricata-eve.ndjson": {"dns": "dns", "http": "proxy", "tls": "proxy"},
}


def enrich(paths, *extra):
    """(file name, line number, event) for each JSON object domreg writes."""
    events = []
    for path in paths:
        out = subprocess.run(
            [DOMREG, "enrich", "--offline", "--now", NOW, *extra, str(path)],
            check=True,
            capture_output=True,
        ).stdout.decode()
        lines = out.splitlines()
        inputs = path.read_bytes().decode().splitlines()
        assert len(lines) == len(inputs), f"{path.name}: one line out per line in"
        for number, line in enumerate(lines, 1):
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line domreg passed through (not an event)
            if isinstance(event, dict):
                events.append((path.name, number, event))
    return events


def flatten(value, prefix="", out=None):
    out = {} if out is None else out
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            flatten(item, name + ".", out)
        elif isinstance(item, list):
            out[name] = json.dumps(item)
        else:
            out[name] = item
    return out


def label(event):
    """What a reader recognises an event by."""
    for key in ("uid", "query", "message"):
        if key in event:
            return event[key]
    return event.get("domreg", {}).get("name")


class Store:
    """The enriched events in SQLite, one table per log source category."""

    def __init__(self, events):
        self.db = sqlite3.connect(":memory:")
        self.labels = {}
        self.arrays = set()
        tables = {}
        for file, number, event in events:
            category = CATEGORY[file]
            if isinstance(category, dict):
                category = category.get(event.get("event_type"))
                if category is None:
                    continue
            row = flatten(event)
            self.arrays.update(k for k, v in event_lists(event))
            row["_event"] = f"{file}:{number}"
            self.labels[row["_event"]] = label(event)
            tables.setdefault(category, []).append(row)
        self.counts = {}
        for table, rows in tables.items():
            columns = {}
            for row in rows:
                for key in row:
                    columns.setdefault(key.lower(), key)
            # No declared type: numbers stay numbers; text compares without
            # case, as Sigma matches.
            spec = ", ".join(f"{quote(c)} COLLATE NOCASE" for c in columns.values())
            self.db.execute(f"CREATE TABLE {table} ({spec})")
            for row in rows:
                keys = list(row)
                self.db.execute(
                    f"INSERT INTO {table} ({', '.join(map(quote, keys))}) "
                    f"VALUES ({', '.join('?' * len(keys))})",
                    [row[k] for k in keys],
                )
            self.counts[table] = len(rows)

    def backend(self, table, pipeline=None):
        return ArrayBackend(
            self.arrays,
            processing_pipeline=pipeline,
            table=table,
            timestamp_field="ts",
            event_id_field="_event",
            collate_nocase=True,
        )

    def matches(self, rule, pipeline=None):
        """The events a detection rule matches, as {"file:line": label}."""
        table = rule.logsource.category
        (query,) = self.backend(table, pipeline).convert_rule(rule)
        cursor = self.db.execute(query)
        column = [d[0] for d in cursor.description].index("_event")
        return {row[column]: self.labels[row[column]] for row in cursor}

    def alerts(self, rule, table, pipeline):
        """A correlation rule's alerts: (group keys, sorted events) pairs."""
        backend = self.backend(table, pipeline)
        for reference in rule.rules:  # the plan reads their conversions
            backend.convert_rule(reference.rule)
        (converted,) = backend.convert_correlation_rule(rule, "zircolite")
        rows, _ = execute_plan(self.db, converted["correlation_plan"])
        return sorted(
            (
                tuple(sorted(r["group_keys"].items())),
                tuple(sorted(e.split(":", 1)[1] for e in r["event_ids"])),
            )
            for r in rows
        )


def event_lists(event, prefix=""):
    for key, item in event.items():
        if isinstance(item, dict):
            yield from event_lists(item, f"{prefix}{key}.")
        elif isinstance(item, list):
            yield f"{prefix}{key}", item


def quote(name):
    return '"' + name.replace('"', '""') + '"'


class ArrayBackend(sqliteBackend):
    """pySigma's SQLite backend, matching list fields element by element."""

    convert_or_as_in = False  # every value goes through the method below

    def __init__(self, arrays, **options):
        self.arrays = arrays
        super().__init__(**options)

    def convert_condition_field_eq_val_str(self, cond, state):
        if cond.field not in self.arrays:
            return super().convert_condition_field_eq_val_str(cond, state)
        element = ConditionFieldEqualsValueExpression("value", cond.value)
        inner = super().convert_condition_field_eq_val_str(element, state)
        field = self.escape_and_quote_field(cond.field)
        return f"EXISTS (SELECT 1 FROM json_each({field}) WHERE {inner})"


def pipeline(name):
    text = (RULES / "pipelines" / f"{name}.yml").read_text()
    return ProcessingPipeline.from_yaml(text)


def rules():
    """The rules, loaded afresh (converting applies pipelines to them)."""
    paths = sorted((RULES / "sigma").glob("*.yml"))
    collection = SigmaCollection.load_ruleset([str(p) for p in paths])
    collection.resolve_rule_references()
    return {Path(str(r.source.path)).stem: r for r in collection}


# What each rule must match in the examples enriched with the defaults
# (file:line -> Zeek uid, query or message); every other event of its log
# source must not match.
EXPECTED = {
    "dns_newly_registered_domain": {
        # nic.xyz 8 days after its registration
        "rules-demo.ndjson:1": "CdemoNewlyReg01",
        # microsoft.click 7 days after its registration; nic.xyz and
        # wicar.org in the same file are over a year old then
        "rules-burst.ndjson:1": "CburstA00000001",
        "rules-burst.ndjson:2": "CburstC00000001",
        "rules-burst.ndjson:3": "CburstB00000001",
        "rules-burst.ndjson:6": "CburstB00000003",
    },
    "proxy_newly_registered_domain": {
        # TLS to www.nic.xyz 9 days after its registration; the Squid
        # request to nic.xyz in 2025 is not
        "rules-demo-ssl.ndjson:1": "CdemoTlsNewReg01",
    },
    # No real registration record here is on hold (see the burst run).
    "dns_domain_on_hold": {},
    "dns_recently_changed_established_domain": {
        # wicar.org, 12 years old, updated 7 days before
        "rules-demo.ndjson:2": "CdemoChanged0001",
        # the same for a Route 53 query without a timestamp of its own
        "route53.ndjson:3": "wicar.org",
    },
    "dns_whois_rdap_service_query": {
        "rules-demo.ndjson:5": "CdemoWhoisRecon1",
    },
}

# The burst run: rules-burst.ndjson with tests/burst.toml (newly registered
# below 800 days, so microsoft.click, nic.xyz and wicar.org all count on
# 2014-11-20) and example.cz on clientHold (tests/registrations-hold.jsonl).
BURST_NEWLY = {
    "rules-burst.ndjson:1": "CburstA00000001",
    "rules-burst.ndjson:2": "CburstC00000001",
    "rules-burst.ndjson:3": "CburstB00000001",
    "rules-burst.ndjson:4": "CburstA00000002",
    "rules-burst.ndjson:5": "CburstB00000002",
    "rules-burst.ndjson:6": "CburstB00000003",
    "rules-burst.ndjson:7": "CburstA00000003",
    "rules-burst.ndjson:8": "CburstA00000004",
    "rules-burst.ndjson:11": "CburstC00000002",
    "rules-burst.ndjson:12": "CburstC00000003",
}
# 10.20.0.40: microsoft.click, nic.xyz, wicar.org and nic.xyz again in 4.5
# minutes (its google.com query is not newly registered). 10.20.0.41: two
# distinct domains. 10.20.0.42: three, 20 minutes apart.
BURST_HOST = "10.20.0.40"
BURST_EVENTS = {"rules-burst.ndjson:1", "rules-burst.ndjson:4", "rules-burst.ndjson:7", "rules-burst.ndjson:8"}


class Rules(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        files = sorted(LOGS.iterdir())
        registrations = ["--registrations", str(ROOT / "examples" / "registrations.jsonl")]
        cls.examples = Store(enrich(files, *registrations))
        cls.burst = Store(
            enrich(
                [LOGS / "rules-burst.ndjson"],
                "--config", str(RULES / "tests" / "burst.toml"),
                *registrations,
                "--registrations", str(RULES / "tests" / "registrations-hold.jsonl"),
            )
        )
        cls.zeek = pipeline("zeek")

    def test_every_example_file_has_a_log_source(self):
        self.assertEqual(sorted(CATEGORY), sorted(p.name for p in LOGS.iterdir()))
        # most example events are in the tables the rules run over
        self.assertGreater(self.examples.counts["dns"], 500)
        self.assertGreater(self.examples.counts["proxy"], 15)

    def test_detection_rules_on_the_examples(self):
        self.assertEqual(sorted(EXPECTED), sorted(
            name for name, r in rules().items() if not isinstance(r, SigmaCorrelationRule)
        ))
        for name, expected in EXPECTED.items():
            with self.subTest(rule=name):
                got = self.examples.matches(rules()[name])
                self.assertEqual(got, expected)

    def test_rules_on_the_burst_run(self):
        got = self.burst.matches(rules()["dns_newly_registered_domain"])
        self.assertEqual(got, BURST_NEWLY)
        got = self.burst.matches(rules()["dns_domain_on_hold"])
        self.assertEqual(got, {"rules-burst.ndjson:10": "CburstD00000001"})

    def test_burst_correlation(self):
        rule = rules()["dns_newly_registered_domain_burst"]
        alerts = self.burst.alerts(rule, "dns", self.zeek)
        # The group key is the field the Zeek pipeline maps source.ip to.
        self.assertEqual({keys for keys, _ in alerts}, {(("id.orig_h", BURST_HOST),)})
        # Sliding windows: an alert for each window that reaches the
        # threshold (10:03:30 and 10:04:00), each with its events.
        evidence = [set(events) for _, events in alerts]
        self.assertTrue(all(len(e) >= 3 for e in evidence))
        self.assertEqual(set().union(*evidence), BURST_EVENTS)
        rule = rules()["dns_newly_registered_domain_burst"]
        # With the default 30 days only microsoft.click is newly registered
        # then: one distinct domain per host, no alert.
        self.assertEqual(self.examples.alerts(rule, "dns", self.zeek), [])

    def test_burst_threshold_and_window_come_from_the_rule(self):
        # The same data with the rule's threshold lowered to 2 and its window
        # widened to an hour: 10.20.0.41 (two domains) and 10.20.0.42 (three
        # over 40 minutes) alert too, so the rule's own values decide.
        path = RULES / "sigma" / "dns_newly_registered_domain_burst.yml"
        doc = yaml.safe_load(path.read_text())
        self.assertEqual(doc["correlation"]["condition"], {"field": "domreg.domain", "gte": 3})
        self.assertEqual(doc["correlation"]["timespan"], "10m")
        doc["correlation"]["condition"]["gte"] = 2
        doc["correlation"]["timespan"] = "1h"
        base = RULES / "sigma" / "dns_newly_registered_domain.yml"
        collection = SigmaCollection.from_yaml(base.read_text() + "\n---\n" + yaml.safe_dump(doc))
        collection.resolve_rule_references()
        rule = next(r for r in collection if isinstance(r, SigmaCorrelationRule))
        hosts = {keys for keys, _ in self.burst.alerts(rule, "dns", self.zeek)}
        self.assertEqual(hosts, {(("id.orig_h", h),) for h in ("10.20.0.40", "10.20.0.41", "10.20.0.42")})

    def test_attack_tags_are_domregs(self):
        catalogue = json.loads(
            subprocess.run([DOMREG, "attack", "--json"], check=True, capture_output=True).stdout
        )
        by_rule = {}
        for entry in catalogue:
            tags = by_rule.setdefault(entry["rule"], set())
            tags.add("attack." + entry["id"].lower())
            tags.add("attack." + entry["tactic"]["name"].lower().replace(" ", "-"))
        reason = {
            "dns_newly_registered_domain": "newly_registered",
            "proxy_newly_registered_domain": "newly_registered",
            "dns_newly_registered_domain_burst": "newly_registered",
            "dns_domain_on_hold": "on_hold",
            "dns_recently_changed_established_domain": "recently_changed",
            "dns_whois_rdap_service_query": "whois_recon",
        }
        self.assertEqual(sorted(reason), sorted(rules()))
        for name, rule in rules().items():
            with self.subTest(rule=name):
                tags = {f"{t.namespace}.{t.name}" for t in rule.tags}
                self.assertEqual(tags, by_rule[reason[name]])

    def test_rule_fields_exist_in_the_output(self):
        columns = set()
        for table in self.examples.counts:
            cursor = self.examples.db.execute(f"SELECT * FROM {table} LIMIT 0")
            columns.update(d[0] for d in cursor.description)
        documented = (ROOT / "docs" / "fields.md").read_text()
        for name, rule in rules().items():
            fields = set(getattr(rule, "fields", None) or [])
            if isinstance(rule, SigmaCorrelationRule):
                fields.add(rule.condition.fieldref)
            else:
                for detection in rule.detection.detections.values():
                    fields.update(i.field for i in detection.detection_items)
            for field in sorted(fields - {"source.ip"}):
                with self.subTest(rule=name, field=field):
                    self.assertIn(field, columns)
                    self.assertIn(f"`{field.removeprefix('domreg.registration.')}`", documented)

    def test_each_pipeline_maps_the_source_host(self):
        from sigma.backends.splunk import SplunkBackend

        host = {"zeek": "id.orig_h", "suricata": "src_ip", "route53": "srcaddr", "sysmon": "host.name"}
        self.assertEqual(
            sorted([*host, "splunk"]), sorted(p.stem for p in (RULES / "pipelines").glob("*.yml"))
        )
        for name, field in host.items():
            with self.subTest(pipeline=name):
                rule = rules()["dns_newly_registered_domain_burst"]
                backend = SplunkBackend(pipeline("splunk") + pipeline(name))
                backend.init_processing_pipeline()
                for reference in rule.rules:  # converted first, as in a collection
                    backend.convert_rule(reference.rule)
                (query,) = backend.convert_correlation_rule(rule)
                self.assertIn(f"by _time {field}\n", query)
                self.assertIn('"domreg.risk.reasons{}"="newly_registered"', query)

    def test_converted_queries_are_up_to_date(self):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, str(RULES / "convert.py"), tmp], check=True)
            diff = filecmp.dircmp(tmp, RULES / "converted")
            stale = []

            def walk(d, at=""):
                stale.extend(f"{at}{n}" for n in d.left_only + d.right_only + d.diff_files)
                for sub, child in d.subdirs.items():
                    walk(child, f"{at}{sub}/")

            walk(diff)
            # dircmp compares shallowly; compare the bytes of each file too
            for path in Path(tmp).rglob("*"):
                if path.is_file():
                    other = RULES / "converted" / path.relative_to(tmp)
                    if other.is_file() and other.read_bytes() != path.read_bytes():
                        stale.append(str(path.relative_to(tmp)))
            self.assertEqual(stale, [], "run rules/convert.py and commit rules/converted/")


if __name__ == "__main__":
    unittest.main()
