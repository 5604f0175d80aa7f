#!/usr/bin/env python3
"""scripts/test_summary.py on hand-made testlog.json files: an empty run, a
stale log, a registered test that did not run, skips (meson's and
GoogleTest's) with and without CI=true, a failure, a missing log. The
closing line must always be "N passed, N failed" with the right counts.

    test_summary_test.py <path/to/test_summary.py>
"""
import json
import os
import subprocess
import sys
import tempfile
import time


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def main():
    summary = sys.argv[1]
    now = time.time()
    failures = []
    with tempfile.TemporaryDirectory() as d:
        def log(name, recs, mtime=None):
            p = os.path.join(d, name)
            with open(p, "w") as f:
                for r in recs:
                    f.write(json.dumps(r) + "\n")
            if mtime is not None:
                os.utime(p, (mtime, mtime))
            return p

        def listing(name, tests, raw=()):
            p = os.path.join(d, name)
            with open(p, "w") as f:
                # As `meson test --list` prints them after a rebuild.
                f.write("ninja: no work to do.\n" + "".join(f"shoal:unit / {t}\n" for t in tests) +
                        "".join(f"{t}\n" for t in raw))
            return p

        def rec(name, result="OK", start=now + 1, stdout=""):
            return {"name": f"shoal:unit / {name}", "result": result, "starttime": start,
                    "stdout": stdout}

        gskip = ("[ RUN      ] T.x\n[  SKIPPED ] T.x (0 ms)\n[  PASSED  ] 0 tests.\n"
                 "[  SKIPPED ] 1 test, listed below:\n[  SKIPPED ] T.x\n")
        good = log("good.json", [rec("a"), rec("b")])
        ab = listing("ab.txt", ["a", "b"])
        cases = [
            # (what, args, CI, expected closing line, expected exit 0?)
            ("all passed", [f"{good}={ab}"], False, "2 passed, 0 failed", True),
            # A build with a single suite lists and logs bare names.
            ("bare names",
             [log("bare.json", [dict(rec("a"), name="fuzz_a"), dict(rec("b"), name="fuzz_b")]) +
              "=" + listing("bare.txt", [], raw=["fuzz_a", "fuzz_b"])], False,
             "2 passed, 0 failed", True),
            ("bare name not run",
             [log("bare2.json", [dict(rec("a"), name="fuzz_a")]) + "=" +
              listing("bare2.txt", [], raw=["fuzz_a", "fuzz_b"])], False,
             "1 passed, 1 failed", False),
            ("empty run", [log("empty.json", [])], False, "0 passed, 1 failed", False),
            ("no log given", [], False, "0 passed, 1 failed", False),
            ("missing log", [os.path.join(d, "absent.json")], False, "0 passed, 1 failed", False),
            ("registered test not run", [f"{good}={listing('abc.txt', ['a', 'b', 'c'])}"], False,
             "2 passed, 1 failed", False),
            ("stale file and result",
             [log("stale.json", [rec("a", start=now - 3600), rec("b")], mtime=now - 3600)], False,
             "2 passed, 2 failed", False),
            ("stale result", [log("stale2.json", [rec("a", start=now - 3600), rec("b")])], False,
             "2 passed, 1 failed", False),
            ("a failure", [log("fail.json", [rec("a"), rec("b", "FAIL")])], False,
             "1 passed, 1 failed", False),
            ("skips outside CI",
             [log("skip.json", [rec("a"), rec("pd", "SKIP"), rec("g", stdout=gskip)])], False,
             "2 passed, 0 failed", True),
            ("skips under CI",
             [log("skip2.json", [rec("a"), rec("pd", "SKIP"), rec("g", stdout=gskip)])], True,
             "1 passed, 2 failed", False),
            ("only skips", [log("skip3.json", [rec("pd", "SKIP")])], False,
             "0 passed, 1 failed", False),
        ]
        for what, args, ci, want_last, want_ok in cases:
            env = dict(os.environ, SHOAL_TEST_START=str(now))
            env.pop("CI", None)
            if ci:
                env["CI"] = "true"
            r = subprocess.run([sys.executable, summary] + args, capture_output=True, text=True,
                               env=env, timeout=30)
            lines = r.stdout.splitlines()
            last = lines[-1] if lines else ""
            ok = last == want_last and (r.returncode == 0) == want_ok
            if what.startswith("skips"):
                ok = (ok and "2 skipped:" in r.stdout and "pd" in r.stdout
                      and r.stdout.count("T.x") == (2 if ci else 1))
            print(f"{'ok  ' if ok else 'FAIL'} {what}: {last!r}, exit {r.returncode}")
            if not ok:
                failures.append(f"{what}: wanted {want_last!r} (exit {'0' if want_ok else '!=0'})"
                                f", got exit {r.returncode}:\n{r.stdout}{r.stderr}")
    check(not failures, "\n".join(failures))
    print("test_summary: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
