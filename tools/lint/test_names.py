#!/usr/bin/env python3
"""Fails when a Catch2 TEST_CASE name contains ';': ctest's list syntax splits such a name,
and the halves match no test, so the case would fail (or never run) under ctest."""
import glob
import re
import sys

bad = []
for path in sorted(glob.glob("test/**/*.cc", recursive=True)):
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r'TEST_CASE\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)', text):
        name = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
        if ";" in name:
            line = text.count("\n", 0, m.start()) + 1
            bad.append(f"{path}:{line}: test name contains ';': {name}")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
