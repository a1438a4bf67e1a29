"""Debug a name: python -m python_enrich.normalize "某公司（已转出）"

With names as arguments, prints each one's normalized form and temporary id.  With none, reads JSON
lines {"name": ...} from stdin (null allowed) and writes JSON lines {"name", "normalized", "temp_id"}.
The salt comes from WDH_ALIAS_SALT (a warning goes to stderr when the public default is used).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, TextIO

from python_enrich.normalization import normalize_company_name
from python_enrich.temp_id import salt_from_env, temp_id_for_normalized


def describe(names: Iterable[Any], salt: str) -> Iterable[dict[str, Any]]:
    """name → {name, normalized, temp_id}; each distinct name is normalized and hashed once."""

    @lru_cache(maxsize=200_000)
    def resolve(name: str | None) -> tuple[str, str | None]:
        normalized = normalize_company_name(name)
        return normalized, temp_id_for_normalized(normalized, salt) if normalized else None

    for name in names:
        key = name if isinstance(name, str) else None
        normalized, temp_id = resolve(key)
        yield {"name": name, "normalized": normalized, "temp_id": temp_id}


def _json_lines(stream: TextIO, errors: list[str]) -> Iterable[Any]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            errors.append(f"line {number}: not JSON ({error.msg})")
            continue
        if not isinstance(record, dict) or "name" not in record:
            errors.append(f'line {number}: expected an object with a "name" key')
            continue
        if record["name"] is not None and not isinstance(record["name"], str):
            errors.append(f'line {number}: "name" must be a string or null')
            continue
        yield record["name"]


def main(argv: list[str] | None = None, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m python_enrich.normalize",
        description="Print the normalized company name and temporary id of names given as arguments, "
        'or of JSON lines {"name": ...} read from stdin.',
    )
    parser.add_argument("names", nargs="*", help="names to normalize (none: read JSON lines from stdin)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr)
    salt = salt_from_env()

    if args.names:
        for result in describe(args.names, salt):
            if len(args.names) > 1:
                print(f"name:       {result['name']}", file=stdout)
            print(f"normalized: {result['normalized']}", file=stdout)
            print(f"temp_id:    {result['temp_id'] or '(none: the name normalizes to empty)'}", file=stdout)
        return 0

    errors: list[str] = []
    for result in describe(_json_lines(stdin, errors), salt):
        stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
