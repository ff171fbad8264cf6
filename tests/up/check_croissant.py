"""Reads a Croissant document with MLCommons' own reader (mlcroissant) and checks that every
file it lists carries a SHA-256: exits non-zero, printing why, on any validation error."""

import json
import sys

import mlcroissant as mlc


def main(path: str) -> int:
    dataset = mlc.Dataset(jsonld=path)  # raises mlc.ValidationError on any error
    issues = dataset.metadata.ctx.issues
    for warning in sorted(issues.warnings):
        print(f"mlcroissant warning: {warning}")
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    files = document["distribution"]
    missing = [f["name"] for f in files if not f.get("sha256")]
    if not files or missing:
        print(f"files without a SHA-256: {missing or 'no files at all'}")
        return 1
    print(f"{document['name']}: {len(files)} files, valid Croissant 1.0")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
