"""Helpers shared by the kernel-peer test scripts.

check() raises like a failed assert but is not removed by `python -O`.
skip() is how a script reports that it cannot run here (not root, no
/dev/net/tun, a tool missing): exit 77, which meson records as skipped --
except under CI=true, where the environment is supposed to have everything
and a test that cannot run is a failure (exit 1).
"""
import os
import sys

SKIP = 77


class CheckFailed(AssertionError):
    pass


def check(cond, message=""):
    if not cond:
        raise CheckFailed(message)


def under_ci():
    return os.environ.get("CI", "").lower() == "true"


def skip(reason, stream=None):
    """Returns the exit status for a test that cannot run: 77, or 1 under CI."""
    stream = stream or sys.stdout
    if under_ci():
        print(f"FAIL: {reason} (CI=true: a test that cannot run fails)", file=stream, flush=True)
        return 1
    print(f"skip: {reason}", file=stream, flush=True)
    return SKIP
