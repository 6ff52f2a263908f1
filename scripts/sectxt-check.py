"""Validates a security.txt with the PyPI package sectxt (the Dutch Internet.nl checker's
library): prints its errors, recommendations and notifications as JSON, and exits 1 when it
finds errors. Usage: sectxt-check.py FILE CANONICAL_URL"""
import json
import sys

from sectxt import Parser

content = open(sys.argv[1], "rb").read()
p = Parser(content, urls=sys.argv[2])
print(json.dumps({"valid": p.is_valid(), "errors": p.errors,
                  "recommendations": p.recommendations,
                  "notifications": p.notifications}, default=str))
sys.exit(0 if p.is_valid() else 1)
