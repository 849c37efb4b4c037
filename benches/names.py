#!/usr/bin/env python3
"""Three variants of the Zeek dns trace that differ only in their names, to
measure what a name costs the first time domreg sees it (docs/performance.md).

  names-same.ndjson     100 names (www. under 100 registered domains)
  names-cycle.ndjson    50,000 names (www. under each registered domain), in
                        a cycle, so the name cache holds about half of them
  names-unique.ndjson   every name new (n<i>. under the registered domains)

Each line is a line of ZEEK (the first LINES of it) with its `query`
replaced; the registered domains are those of REGISTRATIONS, so every lookup
is a hit. Standard library only.

Usage: names.py ZEEK REGISTRATIONS OUTDIR [LINES]
"""

import json
import sys


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    zeek, regs_path, outdir = sys.argv[1:4]
    limit = int(sys.argv[4]) if len(sys.argv) > 4 else 200_000
    with open(regs_path) as f:
        regs = [json.loads(line)["domain"] for line in f]
    if len(regs) < 100:
        sys.exit("names.py: need at least 100 registration records")
    outs = {
        name: open(f"{outdir}/names-{name}.ndjson", "w")
        for name in ("same", "cycle", "unique")
    }
    with open(zeek) as f:
        for i, line in enumerate(f):
            if i >= limit:
                break
            event = json.loads(line)
            for name, query in (
                ("same", f"www.{regs[i % 100]}"),
                ("cycle", f"www.{regs[i % len(regs)]}"),
                ("unique", f"n{i}.{regs[i % len(regs)]}"),
            ):
                event["query"] = query
                outs[name].write(json.dumps(event, separators=(",", ":")) + "\n")
    for f in outs.values():
        f.close()


if __name__ == "__main__":
    main()
