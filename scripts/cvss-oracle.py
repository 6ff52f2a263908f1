"""Scores CVSS vectors with the PyPI `cvss` package, one vector a line on stdin, one JSON
array a line on stdout: [base, temporal, environmental] for v3.x, [score] for v4.0, or
["error", message] when the package refuses the vector."""
import json
import sys

from cvss import CVSS3, CVSS4

for line in sys.stdin:
    v = line.strip()
    if not v:
        continue
    try:
        if v.startswith("CVSS:4.0/"):
            out = [float(CVSS4(v).base_score)]
        else:
            out = [float(s) for s in CVSS3(v).scores()]
    except Exception as e:  # the oracle's refusal is a result too
        out = ["error", str(e)]
    print(json.dumps(out))
