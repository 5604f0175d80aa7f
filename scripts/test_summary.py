#!/usr/bin/env python3
"""Counts meson test results from one or more testlog.json files and prints
the closing line CI reads: "N passed, N failed". Every other finding is on
the lines before it. Exits non-zero unless everything passed.

    test_summary.py [--start EPOCH] LOG[=REGISTERED] ...

LOG is a build directory's meson-logs/testlog.json. REGISTERED, when given,
is the output of `meson test -C DIR --list` with the same suite options as
the run that wrote LOG: a registered test missing from LOG counts as a
failure (it did not run), as does a test in LOG that is not registered.
--start (default: $SHOAL_TEST_START) is when this run began, in seconds since
the epoch: a log, or a result in it, from before then is stale (left over
from an earlier run) and counts as a failure.

Counted as failed: every result that is not OK or EXPECTEDFAIL; a missing,
unreadable or stale log; each registered test that did not run; a run with
no test at all ("0 passed, 1 failed" rather than a clean-looking
"0 passed, 0 failed"); and, when the environment has CI=true, every skip
(meson's SKIP, exit 77, or a GoogleTest case reported as [  SKIPPED ]): CI
has every privilege and tool, so a test that did not run is a failure.
Skips are listed by name either way.
"""
import json
import os
import re
import sys

PASS = {"OK", "EXPECTEDFAIL"}
SKIP = {"SKIP"}
# GoogleTest's line for a skipped case; the binary exits 0 and meson says OK.
GTEST_SKIPPED = re.compile(r"^\[  SKIPPED \] (\S+\.\S+)", re.M)
# Slack for the comparison of times written by meson with the start stamp
# (whole seconds from `date +%s`).
CLOCK_SLACK_S = 1.0


def registered_names(path):
    """Test names from `meson test --list`, one a line, spelled as
    testlog.json spells them ("project:suite / name", or just "name" in a
    build with one suite). A rebuild's "ninja: ..." lines are not tests."""
    with open(path) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith("ninja:")]


def record_name(rec):
    return rec.get("name", "?")


def parse_args(argv):
    start = os.environ.get("SHOAL_TEST_START")
    logs = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--start":
            start = argv[i + 1]
            i += 2
            continue
        if a.startswith("--start="):
            start = a.split("=", 1)[1]
        else:
            log, _, reg = a.partition("=")
            logs.append((log, reg or None))
        i += 1
    return (float(start) if start else None), logs


def main(argv):
    start, logs = parse_args(argv)
    ci = os.environ.get("CI", "").lower() == "true"
    passed = failed = 0
    problems = []  # lines printed before the closing one
    skips = []     # "log: name"
    for path, registered in logs:
        ran = []
        try:
            if start is not None and os.path.getmtime(path) < start - CLOCK_SLACK_S:
                failed += 1
                problems.append(f"STALE: {path} was written before this run started")
            with open(path) as f:
                lines = [ln for ln in f if ln.strip()]
        except OSError as e:
            failed += 1
            problems.append(f"MISSING: test log {path}: {e.strerror}")
            continue
        stale_records = 0
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError:
                failed += 1
                problems.append(f"FAILED: {path}: unreadable line {line[:60]!r}")
                continue
            name = record_name(rec)
            ran.append(name)
            res = rec.get("result", "ERROR")
            t = rec.get("starttime")
            if start is not None and isinstance(t, (int, float)) and t < start - CLOCK_SLACK_S:
                stale_records += 1
            if res in PASS:
                # Each case appears twice: when it ran and in the closing list.
                gskips = sorted(set(GTEST_SKIPPED.findall(rec.get("stdout") or "")))
                skips += [f"{path}: {name}: {g}" for g in gskips]
                if gskips and ci:
                    failed += 1
                    problems.append(f"FAILED: {path}: {name} skipped GoogleTest case(s) "
                                    f"under CI=true: {', '.join(gskips)}")
                else:
                    passed += 1
            elif res in SKIP:
                skips.append(f"{path}: {name}")
                if ci:
                    failed += 1
                    problems.append(f"FAILED: {path}: {name} -> SKIP (under CI=true a skip "
                                    f"is a failure)")
            else:
                failed += 1
                problems.append(f"FAILED: {path}: {name} -> {res}")
        if stale_records:
            failed += 1
            problems.append(f"STALE: {path}: {stale_records} result(s) started before this run")
        if registered is not None:
            try:
                want = registered_names(registered)
            except OSError as e:
                failed += 1
                problems.append(f"MISSING: registered-test list {registered}: {e.strerror}")
                continue
            ran_set, want_set = set(ran), set(want)
            for name in want:
                if name not in ran_set:
                    failed += 1
                    problems.append(f"NOT RUN: {path}: {name} is registered but has no result")
            for name in sorted(ran_set - want_set):
                failed += 1
                problems.append(f"NOT REGISTERED: {path}: {name} has a result but is not in "
                                f"{registered}")
            if len(ran) != len(ran_set):
                failed += 1
                problems.append(f"FAILED: {path}: {len(ran) - len(ran_set)} duplicate result(s)")
            print(f"{path}: {len(ran)} run, {len(want)} registered")
    if passed == 0 and failed == 0:
        failed = 1
        problems.append("FAILED: no test ran")
    for p in problems:
        print(p)
    if skips:
        print(f"{len(skips)} skipped:")
        for s in skips:
            print(f"  skipped: {s}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
