"""Mutation score of the code where a wrong decision costs most: python -m python_enrich.mutate [--json]

Runs mutmut over the modules and with the unit tests named in pyproject.toml ([tool.mutmut]
only_mutate and pytest_add_cli_args_test_selection): every mutant is a plausible one-line bug, and a
test must fail for it. Prints killed, survived and the score per module. Survivors that cannot
change behaviour are listed with their reason in tests/mutation_equivalents.txt and left out of
the score; every other survivor counts against it. Exit 0 when every module reaches --min-score.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from python_enrich.paths import PROJECT_DIR

MUTANTS_DIR = PROJECT_DIR / "mutants"
EQUIVALENTS_FILE = PROJECT_DIR / "tests" / "mutation_equivalents.txt"
DETECTED = ("killed", "timeout", "caught by type check")  # a test (or the clock) noticed the bug
NOT_COUNTED = ("skipped",)


def read_equivalents(path: Path = EQUIVALENTS_FILE) -> dict[str, str]:
    """`mutant_name  reason` per line; '#' starts a comment."""
    equivalents = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, reason = line.partition(" ")
            equivalents[name] = reason.strip()
    return equivalents


def read_statuses(mutants_dir: Path = MUTANTS_DIR) -> dict[str, dict[str, str]]:
    """{module path: {mutant name: status}} from the .meta files mutmut leaves beside each module."""
    from mutmut.stats import status_by_exit_code  # the tool's own reading of its exit codes

    statuses: dict[str, dict[str, str]] = {}
    for meta in sorted(mutants_dir.rglob("*.py.meta")):
        module = str(meta.relative_to(mutants_dir))[: -len(".meta")]
        codes = json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {})
        if codes:
            statuses[module] = {name: status_by_exit_code[code] for name, code in codes.items()}
    return statuses


def score_modules(statuses: dict[str, dict[str, str]], equivalents: dict[str, str]) -> dict[str, Any]:
    modules: dict[str, dict[str, Any]] = {}
    survivors: list[str] = []
    accepted: list[str] = []
    for module, by_name in statuses.items():
        counts: Counter[str] = Counter()
        for name, status in sorted(by_name.items()):
            if status in DETECTED:
                counts["killed"] += 1
            elif status in NOT_COUNTED:
                counts["skipped"] += 1
            elif name in equivalents:
                counts["equivalent"] += 1
                accepted.append(name)
            else:
                counts["no tests" if status == "no tests" else "survived"] += 1
                survivors.append(f"{name}: {status}")
        counted = counts["killed"] + counts["survived"] + counts["no tests"]
        modules[module] = {
            "mutants": len(by_name),
            "killed": counts["killed"],
            "survived": counts["survived"],
            "no_tests": counts["no tests"],
            "equivalent": counts["equivalent"],
            "score": round(100 * counts["killed"] / counted, 1) if counted else 100.0,
        }
    killed = sum(m["killed"] for m in modules.values())
    counted = killed + sum(m["survived"] + m["no_tests"] for m in modules.values())
    stale = sorted(set(equivalents) - set(accepted))  # listed, but killed now or no longer generated
    return {
        "modules": modules,
        "total": {
            "mutants": sum(m["mutants"] for m in modules.values()),
            "killed": killed,
            "score": round(100 * killed / counted, 1) if counted else 100.0,
        },
        "survivors": survivors,
        "equivalent": accepted,
        "stale_equivalents": stale,
    }


def render(result: dict[str, Any]) -> str:
    lines = [f"{'module':<36}{'mutants':>8}{'killed':>8}{'survived':>9}{'no tests':>9}{'equiv.':>7}{'score':>8}"]
    for module, m in result["modules"].items():
        lines.append(
            f"{module:<36}{m['mutants']:>8}{m['killed']:>8}{m['survived']:>9}{m['no_tests']:>9}"
            f"{m['equivalent']:>7}{m['score']:>7.1f}%"
        )
    total = result["total"]
    lines.append(f"{'total':<36}{total['mutants']:>8}{total['killed']:>8}{'':>33}{total['score']:>7.1f}%")
    lines += [f"survivor: {name}" for name in result["survivors"]]
    lines += [f"note: {name} is listed as equivalent but no longer survives" for name in result["stale_equivalents"]]
    return "\n".join(lines)


def run_mutmut(max_children: int, verbose: bool) -> int:
    mutmut = shutil.which("mutmut", path=str(Path(sys.executable).parent)) or shutil.which("mutmut")
    if mutmut is None:
        print("error: mutmut is not installed in this environment: run ./run test once first", file=sys.stderr)
        return 2
    output = None if verbose else subprocess.DEVNULL  # mutmut draws a spinner per mutant
    return subprocess.run(
        [mutmut, "run", "--max-children", str(max_children)], cwd=PROJECT_DIR, stdout=output, check=False
    ).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m python_enrich.mutate", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--min-score", type=float, default=90.0, help="per-module score to pass (default 90)")
    parser.add_argument(
        "--max-children", type=int, default=os.cpu_count() or 2, help="parallel mutants (default: cores)"
    )
    parser.add_argument("--keep", action="store_true", help="reuse mutants/ from the last run (default: start afresh)")
    parser.add_argument("--verbose", action="store_true", help="show mutmut's own progress")
    args = parser.parse_args(argv)
    if args.max_children < 1:
        parser.error("--max-children must be at least 1")
    if not args.keep:
        shutil.rmtree(MUTANTS_DIR, ignore_errors=True)
    code = run_mutmut(args.max_children, args.verbose)
    if code != 0:
        print(f"error: mutmut ended with exit code {code} (run with --verbose to see why)", file=sys.stderr)
        return 2
    result = score_modules(read_statuses(), read_equivalents())
    print(json.dumps(result, indent=1) if args.json else render(result))
    return 0 if all(m["score"] >= args.min_score for m in result["modules"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
