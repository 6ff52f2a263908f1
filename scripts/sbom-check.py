"""Checks the CycloneDX SBOM scripts/release made for the `embargo` binary.

Usage: sbom-check.py SBOM VERSION TREE
  SBOM     the JSON SBOM from `cargo cyclonedx`
  VERSION  the version of the `embargo` crate that was built
  TREE     `cargo tree -e normal,build --format '{p}'` of the build: every crate compiled in

Fails when the SBOM is not valid CycloneDX 1.5 JSON (the official schema, as shipped by
cyclonedx-python-lib), does not describe `embargo` VERSION, or leaves out a crate the build
compiled. Crates it names that the build did not compile (features that only the tests
switch on: cargo's metadata unifies them) are listed, not refused.
"""

import json
import sys

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator


def fail(message):
    print(f"sbom-check: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 4:
        fail(__doc__.strip().splitlines()[2])
    sbom_path, version, tree_path = sys.argv[1:]
    with open(sbom_path, encoding="utf-8") as f:
        text = f.read()
    error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(text)
    if error is not None:
        fail(f"{sbom_path} is not valid CycloneDX 1.5: {error}")
    bom = json.loads(text)
    if bom.get("bomFormat") != "CycloneDX" or bom.get("specVersion") != "1.5":
        fail(f"{sbom_path}: bomFormat/specVersion are not CycloneDX/1.5")
    top = bom.get("metadata", {}).get("component", {})
    if (top.get("name"), top.get("version")) != ("embargo", version):
        fail(f"{sbom_path} describes {top.get('name')} {top.get('version')}, not embargo {version}")

    listed = {(c["name"], c.get("version")) for c in bom.get("components", [])}
    for name in ("axum", "sqlx", "tokio", "rustls"):
        if not any(n == name for n, _ in listed):
            fail(f"{sbom_path} has no component {name}")

    built = set()
    with open(tree_path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[1].startswith("v"):
                built.add((parts[0], parts[1][1:]))
    built.discard(("embargo", version))
    if len(built) < 100:
        fail(f"{tree_path} lists only {len(built)} crates: not the output of cargo tree")
    missing = sorted(built - listed)
    if missing:
        fail("crates compiled into the binary but missing from the SBOM: "
             + ", ".join(f"{n} {v}" for n, v in missing))
    extra = sorted(listed - built)
    print(f"SBOM ok: CycloneDX 1.5, embargo {version}, {len(listed)} components, "
          f"all {len(built)} crates of the build listed")
    if extra:
        print(f"  also listed, though not compiled into the release binary ({len(extra)}; "
              "features switched on only by tests): "
              + ", ".join(f"{n} {v}" for n, v in extra))


if __name__ == "__main__":
    main()
