#!/usr/bin/env python3
"""Counts meson test results from one or more testlog.json files and prints
the closing line CI reads: "N passed, N failed" (skips on the line before). Exits non-zero
when anything failed or nothing ran."""
import json
import sys

PASS = {"OK", "EXPECTEDFAIL"}
SKIP = {"SKIP"}

passed = failed = skipped = 0
failures = []
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                rec = json.loads(line)
                res = rec.get("result", "ERROR")
                if res in PASS:
                    passed += 1
                elif res in SKIP:
                    skipped += 1
                else:
                    failed += 1
                    failures.append(f"{path}: {rec.get('name')} -> {res}")
    except FileNotFoundError:
        print(f"missing test log {path}", file=sys.stderr)
        failed += 1

for f in failures:
    print("FAILED:", f)
if skipped:
    # Skipped tests (e.g. packetdrill scripts without a packetdrill binary)
    # are neither; the closing line keeps CI's exact form.
    print(f"{skipped} skipped")
print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 and passed > 0 else 1)
