"""Migrate the old warehouse's override files into the seed CSVs.

    python -m python_enrich.overrides import OLD_CONFIG_DIR [--seeds-dir seeds] [--allow-empty]

Reads company_id_overrides_plan.yml, company_id_overrides_hardcode.yml and
company_id_overrides_name.yml (flat maps of quoted string keys to quoted string company ids) and
writes seeds/company_id_overrides_{plan,hardcode,name}.csv.  Files may be UTF-8 (with or without a
byte-order mark), GB18030/GBK, or UTF-16 with a byte-order mark; anything else is refused naming
the file.  Any bad entry, or two keys that normalize alike with different ids, stops the import
with the file and lines named, and no seed file is changed; a file with no entries never replaces
a seed that has entries unless --allow-empty.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import sys
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from python_enrich.normalization import normalize_company_name
from python_enrich.paths import PROJECT_DIR
from python_enrich.safe_output import for_terminal

EMPTY_MARKER = "__EMPTY__"


@dataclass(frozen=True)
class OverrideFile:
    yaml_name: str
    seed_name: str
    key_column: str
    allows_empty: bool


OVERRIDE_FILES = (
    OverrideFile("company_id_overrides_plan.yml", "company_id_overrides_plan.csv", "plan_code", False),
    OverrideFile("company_id_overrides_hardcode.yml", "company_id_overrides_hardcode.csv", "plan_code", False),
    OverrideFile("company_id_overrides_name.yml", "company_id_overrides_name.csv", "customer_name", True),
)


class OverrideFileError(ValueError):
    """A bad entry; the message names the file and line."""


def decode_override_file(path: Path) -> str:
    """The file's text in its real encoding: a UTF-8 or UTF-16 byte-order mark, else UTF-8, else
    GB18030 (a superset of GBK); anything else, or control characters, refused naming the file."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        encodings = ["utf-8-sig"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ["utf-16"]
    else:
        encodings = ["utf-8", "gb18030"]
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if not any(ch not in "\t\n\r" and unicodedata.category(ch) == "Cc" for ch in text):
            return text
    raise OverrideFileError(
        f"{path.name}: not readable as UTF-8, GB18030/GBK or UTF-16 with a byte-order mark; save it as UTF-8"
    )


def override_key(spec: OverrideFile, key: str) -> str:
    """The key as the warehouse matches it (int_company_id_overrides)."""
    return normalize_company_name(key) if spec.key_column == "customer_name" else key.strip().upper()


def _scalar(node: yaml.Node, path: Path, what: str) -> str:
    where = f"{path.name}, line {node.start_mark.line + 1}"
    if not isinstance(node, yaml.ScalarNode):
        raise OverrideFileError(f"{where}: the {what} must be a quoted string, not a nested list or map")
    if node.style is None and node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
        raise OverrideFileError(
            f"{where}: the {what} {node.value} is an unquoted number; quote it ('{node.value}') so that "
            "leading zeros and long ids survive"
        )
    if node.tag == "tag:yaml.org,2002:null" or not node.value.strip():
        raise OverrideFileError(f"{where}: the {what} is empty")
    return str(node.value).strip()


def read_override_file(path: Path, allows_empty: bool) -> list[tuple[str, str, int]]:
    """(key, company_id, line) entries of one old YAML file, validated."""
    try:
        root = yaml.compose(decode_override_file(path))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark else ""
        problem = for_terminal(getattr(error, "problem", error))
        raise OverrideFileError(f"{path.name}{line}: not valid YAML ({problem})") from None
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise OverrideFileError(f"{path.name}, line {root.start_mark.line + 1}: expected a flat map of key: company id")
    entries: list[tuple[str, str, int]] = []
    seen: dict[str, int] = {}
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1
        key = _scalar(key_node, path, "key")
        company_id = _scalar(value_node, path, "company id")
        if not (re.fullmatch(r"[0-9]+", company_id) or (allows_empty and company_id == EMPTY_MARKER)):
            allowed = f"digits or {EMPTY_MARKER}" if allows_empty else "digits"
            raise OverrideFileError(f"{path.name}, line {line}: company id {company_id!r} must be {allowed}")
        if key in seen:
            raise OverrideFileError(f"{path.name}, line {line}: key {key!r} repeats line {seen[key]}")
        seen[key] = line
        entries.append((key, company_id, line))
    return entries


def check_normalized_keys(spec: OverrideFile, entries: list[tuple[str, str, int]]) -> None:
    """Two keys the warehouse matches alike must not name different companies."""
    first: dict[str, tuple[str, str, int]] = {}
    for key, company_id, line in entries:
        earlier = first.setdefault(override_key(spec, key), (key, company_id, line))
        if earlier[1] != company_id:
            raise OverrideFileError(
                f"{spec.yaml_name}: {for_terminal(earlier[0])!r} (line {earlier[2]}, id {earlier[1]}) and "
                f"{for_terminal(key)!r} (line {line}, id {company_id}) are the same key once normalized "
                "but name different companies: keep one"
            )


def seed_entries(path: Path) -> int:
    """Entries in an existing seed CSV (0 when there is none)."""
    if not path.is_file():
        return 0
    with path.open(encoding="utf-8", newline="") as handle:
        return max(sum(1 for row in csv.reader(handle) if row) - 1, 0)


def import_overrides(old_dir: Path, seeds_dir: Path, allow_empty: bool = False) -> dict[str, int]:
    """Validate every file first, then replace the seed CSVs; returns entries per seed."""
    found = [spec for spec in OVERRIDE_FILES if (old_dir / spec.yaml_name).is_file()]
    if not found:
        names = ", ".join(spec.yaml_name for spec in OVERRIDE_FILES)
        raise OverrideFileError(f"{for_terminal(old_dir)} holds none of {names}")
    contents = {spec: read_override_file(old_dir / spec.yaml_name, spec.allows_empty) for spec in found}
    for spec, entries in contents.items():
        check_normalized_keys(spec, entries)
        existing = seed_entries(seeds_dir / spec.seed_name)
        if not entries and existing and not allow_empty:
            raise OverrideFileError(
                f"{spec.yaml_name} has no entries and would empty {spec.seed_name} ({existing} entries): "
                "nothing changed; pass --allow-empty if that is what you want"
            )
    seeds_dir.mkdir(parents=True, exist_ok=True)
    for spec, entries in contents.items():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([spec.key_column, "company_id", "note"])
        for key, company_id, line in entries:
            writer.writerow([key, company_id, f"imported from {spec.yaml_name}:{line}"])
        # Write beside the target and rename: a failure never leaves a half-written seed.
        handle, temporary = tempfile.mkstemp(dir=seeds_dir, suffix=".csv.tmp")
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(buffer.getvalue())
        os.replace(temporary, seeds_dir / spec.seed_name)
    return {spec.seed_name: len(entries) for spec, entries in contents.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m python_enrich.overrides",
        description=__doc__.splitlines()[1].strip(),
        epilog="exit codes: 0 seeds written; 1 a file is unreadable, in an unknown encoding, has a bad entry, "
        "clashing keys, or no entries for a seed that has some (nothing is changed); 2 bad arguments",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    importer = commands.add_parser("import", help="convert the old YAML override files into the seed CSVs")
    importer.add_argument("old_dir", type=Path, help="folder holding the old company_id_overrides_*.yml files")
    importer.add_argument("--seeds-dir", type=Path, default=PROJECT_DIR / "seeds", help="where the seed CSVs go")
    importer.add_argument("--allow-empty", action="store_true", help="let a file with no entries empty its seed")
    args = parser.parse_args(argv)
    try:
        counts = import_overrides(args.old_dir, args.seeds_dir, args.allow_empty)
    except (OverrideFileError, OSError) as error:
        print(f"error: {for_terminal(error)}", file=sys.stderr)
        return 1
    for seed, count in counts.items():
        print(f"{seed}: {count} entries")
    print("next: dbt seed (./run dbt seed), then dbt build")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
