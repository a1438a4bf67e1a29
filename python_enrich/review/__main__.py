"""Review the names the drain could not settle: python -m python_enrich.review [--port N]

With no action, serves the review page on 127.0.0.1 (its URL on the first line; Ctrl-C stops it).
For scripts: --list, --accept NAME ID, --reject NAME [ID ...], --no-company NAME, --undo NAME,
--decisions, --export-overrides, --audit-cache [--feed].  NAME is the normalized name as --list
shows it (a raw spelling works too).  Decisions are stored with the OS user and the time.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import psycopg2

from python_enrich import db
from python_enrich.errors import first_line
from python_enrich.normalization import normalize_company_name
from python_enrich.paths import PROJECT_DIR
from python_enrich.request_queue import SCHEMA
from python_enrich.review import state
from python_enrich.review.audit import audit_cache
from python_enrich.review.page import ReviewServer

EXIT_OK, EXIT_REFUSED, EXIT_SETUP = 0, 1, 2


def say(line: str) -> None:
    """Print a line whose names come from outside (registry, users' files): no control characters
    reach the terminal; unprintable ones are shown escaped."""
    print("".join(ch if ch.isprintable() or ch == "\t" else f"\\u{ord(ch):04x}" for ch in line))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m python_enrich.review", description=__doc__.splitlines()[0],
        epilog="Exit codes: 0 done, 1 a decision refused (one line says why), 2 no database or state.",
    )  # fmt: skip
    actions = parser.add_mutually_exclusive_group()
    actions.add_argument("--list", action="store_true", help="names waiting for review, by impact, with candidates")
    actions.add_argument("--accept", nargs=2, metavar=("NAME", "ID"), help="accept candidate ID for NAME")
    actions.add_argument(
        "--reject", nargs="+", metavar="NAME_THEN_IDS", help="NAME [ID ...]: reject these candidates (default: all)"
    )
    actions.add_argument("--no-company", metavar="NAME", help="NAME is no company (like __EMPTY__)")
    actions.add_argument("--undo", metavar="NAME", help="undo the latest decision on NAME")
    actions.add_argument("--decisions", action="store_true", help="decisions in force (--all: undone ones too)")
    actions.add_argument("--export-overrides", action="store_true", help="add decisions to the name-override seed")
    actions.add_argument("--audit-cache", action="store_true", help="cache entries that fail today's evidence rules")
    parser.add_argument("--port", type=int, default=0, help="port of the review page (default: a free one)")
    parser.add_argument("--limit", type=int, default=50, help="--list: how many names (default 50)")
    parser.add_argument("--all", action="store_true", help="--decisions: include undone decisions")
    parser.add_argument("--seeds-dir", type=Path, default=PROJECT_DIR / "seeds", help="--export-overrides: seed folder")
    parser.add_argument("--feed", action="store_true", help="--audit-cache: put failing entries up for review")
    parser.add_argument("--include-unverifiable", action="store_true",
                        help="--audit-cache --feed: entries without an official name too")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="--list, --decisions, --audit-cache: print JSON")
    return parser


def known_name(cur: Any, name: str) -> str:
    """NAME as the state knows it: as given, else its normalized form."""
    cur.execute(
        f"select exists (select 1 from {SCHEMA}.enrichment_requests where normalized_name = %s) "  # noqa: S608
        f"or exists (select 1 from {SCHEMA}.review_decisions where normalized_name = %s)",
        (name, name),
    )
    return name if cur.fetchone()[0] else normalize_company_name(name)


def log_run(conn: Any, action: str, details: dict[str, Any]) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            f"insert into {SCHEMA}.run_log (run_kind, finished_at, status, details) "  # noqa: S608
            "values ('review', now(), 'success', %s)",
            (json.dumps({"action": action, **details}),),
        )


def print_list(conn: Any, limit: int, as_json: bool) -> None:
    with conn, conn.cursor() as cur:
        names = state.waiting(cur, limit)
        total = state.waiting_count(cur)
    if as_json:
        print(json.dumps([vars(w) for w in names], ensure_ascii=False, default=str))
        return
    shown = f" (the first {len(names)})" if len(names) < total else ""
    say(f"{total} name(s) waiting for review, by impact{shown}")
    for w in names:
        say(f"{w.normalized_name}\t{w.row_count} rows\tassets {w.asset_volume:,.0f}\t{w.reason}")
        for c in w.candidates:
            say(f"    {c['company_id']}\t{c.get('full_name')}\t{c.get('match_type') or ''}\t{c.get('why_not') or ''}")
        for c in w.rejected:
            say(f"    (rejected) {c['company_id']}\t{c.get('full_name')}")


def print_decisions(conn: Any, include_undone: bool, as_json: bool) -> None:
    with conn, conn.cursor() as cur:
        rows = state.decisions(cur, include_undone)
    keys = ("name", "decision", "company_id", "official_name", "by", "at", "undone_by", "undone_at")
    records = [dict(zip(keys, row[:8], strict=True)) for row in rows]
    if as_json:
        print(json.dumps(records, ensure_ascii=False, default=str))
        return
    for r in records:
        undone = f"\tundone by {r['undone_by']} at {r['undone_at']:%Y-%m-%d %H:%M}" if r["undone_at"] else ""
        say(f"{r['name']}\t{r['decision']}\t{r['company_id'] or ''}\t{r['by']}\t{r['at']:%Y-%m-%d %H:%M}{undone}")


def run_audit(conn: Any, args: argparse.Namespace) -> None:
    report = audit_cache(conn, feed=args.feed, include_unverifiable=args.include_unverifiable)
    findings = report.pop("findings")
    if args.json:
        print(json.dumps({**report, "findings": [vars(f) for f in findings]}, ensure_ascii=False))
    else:
        print(
            f"checked {report['checked']} cache entries without evidence: {report['verified']} pass today's rules "
            f"(evidence recorded), {report['no_evidence']} fail, {report['unverifiable']} cannot be checked "
            f"(no official name); {report['fed_to_review']} put up for review"
        )
        for f in findings[:200]:
            say(
                f"  {f.rows} rows\t{f.key_type}\t{f.lookup_key}\t-> {f.company_id} {f.official_name or ''}\t{f.problem}"
                + (f"\tre-check {f.recheck}" if f.recheck else "")
            )
        if not args.feed and findings:
            print("next: --audit-cache --feed puts them up for review (nothing is deleted without a decision)")
    log_run(conn, "audit-cache", report)


def serve(port: int) -> int:
    try:
        server = ReviewServer(port)
    except OSError as error:
        print(f"error: cannot listen on 127.0.0.1:{port}: {error.strerror}", file=sys.stderr)
        return EXIT_SETUP
    print(server.url, flush=True)
    print(f"review page for {server.who} on {server.url} (127.0.0.1 only; Ctrl-C stops it)", file=sys.stderr)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return EXIT_OK


def decide(conn: Any, args: argparse.Namespace) -> str:
    with conn, conn.cursor() as cur:
        raw = args.accept[0] if args.accept else args.reject[0] if args.reject else args.no_company or args.undo
        name = known_name(cur, raw)
    if args.accept:
        message = state.accept(conn, name, args.accept[1])
    elif args.reject:
        message = state.reject(conn, name, args.reject[1:] or None)
    elif args.no_company:
        message = state.no_company(conn, name)
    else:
        message = state.undo(conn, name)
    action = "accept" if args.accept else "reject" if args.reject else "no-company" if args.no_company else "undo"
    company_ids = (args.accept or args.reject or [])[1:]
    log_run(conn, action, {"company_ids": company_ids})
    return message


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    if not 0 <= args.port <= 65535 or args.limit < 1:
        build_parser().error("--port must be 0..65535 and --limit at least 1")
    try:
        conn = db.connect()
    except psycopg2.OperationalError as error:
        print(f"error: cannot reach PostgreSQL ({first_line(error)})", file=sys.stderr)
        return EXIT_SETUP
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select to_regclass(%s)", (f"{SCHEMA}.review_decisions",))
            if cur.fetchone()[0] is None:
                print(
                    "error: the review state does not exist yet: run dbt build (./run dbt build) first", file=sys.stderr
                )
                return EXIT_SETUP
        if args.list:
            print_list(conn, args.limit, args.json)
        elif args.decisions:
            print_decisions(conn, args.all, args.json)
        elif args.export_overrides:
            with conn, conn.cursor() as cur:
                added, conflicts = state.export_name_overrides(cur, args.seeds_dir)
            print(f"added {added} decision(s) to {args.seeds_dir / state.NAME_SEED}")
            for conflict in conflicts:
                print(f"  left alone: {conflict}")
            if added:
                print("next: dbt seed (./run dbt seed), then dbt build")
        elif args.audit_cache:
            run_audit(conn, args)
        elif args.accept or args.reject or args.no_company or args.undo:
            say(decide(conn, args))
        else:
            conn.close()
            return serve(args.port)
    except state.ReviewError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except (psycopg2.Error, OSError) as error:
        print(f"error: {first_line(error)}", file=sys.stderr)
        return EXIT_SETUP
    finally:
        conn.close()
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
