#!/usr/bin/env python3
"""Fails when a test of this build has no kind, or more than one (tests/CMakeLists.txt):

    python3 tests/check_kinds.py CTEST BUILD_DIR

Every test ctest lists must carry exactly one of the labels unit, backend, program and
statistical, and no name may be listed twice (a GoogleTest test matched by two kinds' filters).
The mutation runner (label mutations) is the one test without a kind: it runs the others, for an
hour, only when asked for by name or label.
"""
import collections
import json
import subprocess
import sys

KINDS = {"unit", "backend", "program", "statistical"}


def main() -> int:
    ctest, build = sys.argv[1], sys.argv[2]
    listing = subprocess.run([ctest, "--show-only=json-v1"], cwd=build, check=True,
                             capture_output=True, text=True).stdout
    tests = json.loads(listing)["tests"]
    bad = []
    for name, count in collections.Counter(t["name"] for t in tests).items():
        if count > 1:
            bad.append(f"{name}: listed {count} times (in the filters of several kinds?)")
    for t in tests:
        labels = set()
        for p in t.get("properties", []):
            if p["name"] == "LABELS":
                labels.update(p["value"])
        kinds = sorted(labels & KINDS)
        if "mutations" in labels and not kinds:
            continue
        if len(kinds) != 1:
            bad.append(f"{t['name']}: kinds {kinds or 'none'} (labels {sorted(labels)})")
    for line in bad:
        print(line)
    print(f"{len(tests)} tests, {len(bad)} problems: each test needs exactly one kind "
          "(tests/CMakeLists.txt lists each suite under its kind)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
