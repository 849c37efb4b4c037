#!/usr/bin/env python3
"""Convert the Sigma rules in rules/sigma/ to the queries in rules/converted/.

    target/sigma-venv/bin/python rules/convert.py [OUT_DIR]

OUT_DIR defaults to rules/converted. One file per rule and target:

- splunk/<rule>.spl: Splunk SPL for domreg's JSON output as Splunk extracts
  it (arrays named `field{}`, pipelines/splunk.yml) from Zeek logs (the
  source host is `id.orig_h`, pipelines/zeek.yml);
- lucene/<rule>.lucene: Elasticsearch Lucene (Kibana query bar, detection
  rules of type "query") over ECS fields (`source.ip`). The Lucene backend
  has no correlation rules; rules/README.md gives the equivalent threshold
  rule for the burst rule.

The test suite (rules/tests/test_rules.py) runs this into a temporary
directory and fails when rules/converted/ differs.
"""

import sys
from pathlib import Path

from sigma.backends.elasticsearch import LuceneBackend
from sigma.backends.splunk import SplunkBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.processing.pipeline import ProcessingPipeline

RULES = Path(__file__).resolve().parent


def pipeline(*names):
    result = ProcessingPipeline()
    for name in names:
        text = (RULES / "pipelines" / f"{name}.yml").read_text()
        result += ProcessingPipeline.from_yaml(text)
    return result


# (directory, file suffix, backend factory, rule types it can convert)
TARGETS = [
    ("splunk", "spl", lambda: SplunkBackend(pipeline("splunk", "zeek")), True),
    ("lucene", "lucene", lambda: LuceneBackend(ProcessingPipeline()), False),
]


def convert(out_dir):
    for name, suffix, make_backend, correlations in TARGETS:
        target_dir = out_dir / name
        target_dir.mkdir(parents=True, exist_ok=True)
        paths = sorted((RULES / "sigma").glob("*.yml"))
        # Correlation rules name their base rules, so every rule is loaded
        # into one collection; each query is then written per rule file.
        collection = SigmaCollection.load_ruleset([str(p) for p in paths])
        collection.resolve_rule_references()
        # Base rules first: a correlation rule's query is built from theirs.
        ordered = sorted(collection, key=lambda r: isinstance(r, SigmaCorrelationRule))
        for rule in ordered:
            path = Path(str(rule.source.path)) if rule.source else None
            is_correlation = isinstance(rule, SigmaCorrelationRule)
            if is_correlation and not correlations:
                continue
            backend = make_backend()
            backend.init_processing_pipeline()
            if is_correlation:
                queries = backend.convert_correlation_rule(rule)
            else:
                queries = backend.convert_rule(rule)
            text = "\n".join(q.strip() for q in queries) + "\n"
            (target_dir / f"{path.stem}.{suffix}").write_text(text)


if __name__ == "__main__":
    convert(Path(sys.argv[1]) if len(sys.argv) > 1 else RULES / "converted")
