"""One self-contained HTML report of the enrichment: python -m python_enrich.report --out report.html

Charts (inline SVG, no network needed to view): rows and distinct names by tier per domain; cache
hit rate (rows answered by entries that existed before the build), own-code, backflow and
temporary-id rates across builds; queue depth by status; drain runs against their rate
limit; the top unresolved names; temporary ids replaced since the last report; lookups that failed;
the review section (names waiting, decisions, top names by impact) and the evidence mix of the
cache.  Every figure is read from the database when the report is written; each chart carries its
total in data-total.
"""

from __future__ import annotations

import argparse
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from python_enrich.db import connect
from python_enrich.errors import read_warehouse
from python_enrich.request_queue import SCHEMA
from python_enrich.summary import DOMAINS, EVIDENCE, TIERS, split_by_evidence

COLORS = ["#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00", "#b82e2e", "#316395"]


@dataclass
class Bar:
    label: str
    values: list[float]  # one per series

    def __post_init__(self) -> None:
        self.values = [float(value) for value in self.values]  # the database gives Decimals


def number(value: float) -> str:
    """Thousands separators, never exponents: whole numbers as such, others with 1 or 2 decimals."""
    if value == int(value) or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"


def busiest_window(times: list[float], window_s: float) -> int:
    """The most calls (epoch seconds, sorted) in any window_s-second window: what a rate limit bounds."""
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


def bar_chart(
    chart_id: str, title: str, bars: list[Bar], series: list[str], total: float, unit: str = "", counted: str = "total"
) -> str:
    """Horizontal grouped bars as inline SVG; data-total lets a reader (or a test) check the sum.

    The caption shows the total with what it counts (`counted`: "rows", "builds", ...)."""
    if not bars:
        return empty_chart(chart_id, title, total, counted)
    row_h, label_w, width = 22, 260, 560
    height = max(1, len(bars)) * row_h * max(1, len(series)) + 40
    peak = max([v for bar in bars for v in bar.values] + [1])
    parts = [f'<svg role="img" aria-label="{html.escape(title)}" width="{label_w + width + 120}" height="{height}">']
    y = 10
    for bar in bars:
        parts.append(f'<text x="0" y="{y + row_h * len(series) / 2 + 4}" class="label">{html.escape(bar.label)}</text>')
        for index, value in enumerate(bar.values):
            w = width * value / peak
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row_h - 4}" '
                f'fill="{COLORS[index % len(COLORS)]}" '
                f'data-series="{html.escape(series[index])}" data-value="{value:.15g}"></rect>'
                f'<text x="{label_w + w + 4:.1f}" y="{y + row_h - 8}" class="value">{number(value)}{unit}</text>'
            )
            y += row_h
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{COLORS[i % len(COLORS)]}"></i>{html.escape(s)}</span>'
        for i, s in enumerate(series)
    )
    return (
        f'<figure class="chart" id="{chart_id}" data-total="{total:.15g}"><figcaption>{html.escape(title)} '
        f'<span class="total">{number(total)} {html.escape(counted)}</span></figcaption>'
        f'<div class="legend">{legend}</div>{"".join(parts)}</figure>'
    )


def caption(title: str, total: float, counted: str) -> str:
    return (
        f'<figcaption>{html.escape(title)} <span class="total">{number(total)} {html.escape(counted)}</span>'
        "</figcaption>"
    )


def empty_chart(chart_id: str, title: str, total: float, counted: str) -> str:
    """A chart with nothing to show yet says so instead of leaving a blank space."""
    return (
        f'<figure class="chart empty" id="{chart_id}" data-total="{total:.15g}">{caption(title, total, counted)}'
        '<p class="none-yet">none yet</p></figure>'
    )


@dataclass
class Column:
    header: str
    series: str  # data-series of its bars
    shown: Callable[[float], str]  # how a value is written


def yuan(value: float) -> str:
    return f"{value:,.2f}"


def percent(value: float) -> str:
    return f"{value:.1f} %"


def bar_table(
    chart_id: str, title: str, columns: list[Column], rows: list[tuple[str, list[float]]], total: float, counted: str
) -> str:
    """A compact table with a small bar in each figure's cell, every column on its own scale: figures
    in different units (rows, yuan, %) never share one axis."""
    if not rows:
        return empty_chart(chart_id, title, total, counted)
    width = 140
    peaks = [max([float(values[i]) for _, values in rows] + [0.0]) or 1.0 for i in range(len(columns))]
    head = "<th></th>" + "".join(f"<th>{html.escape(c.header)}</th>" for c in columns)
    body = []
    for label, values in rows:
        cells = []
        for index, (column, value) in enumerate(zip(columns, values, strict=True)):
            w = width * max(float(value), 0.0) / peaks[index]
            cells.append(
                f'<td class="figure"><svg width="{width}" height="10" aria-hidden="true"><rect width="{w:.1f}" '
                f'height="10" fill="{COLORS[index % len(COLORS)]}" data-series="{html.escape(column.series)}" '
                f'data-value="{float(value):.15g}"></rect></svg> <span class="value">{column.shown(float(value))}'
                "</span></td>"
            )
        body.append(f'<tr><th class="label">{html.escape(label)}</th>{"".join(cells)}</tr>')
    return (
        f'<figure class="chart" id="{chart_id}" data-total="{total:.15g}">{caption(title, total, counted)}'
        f'<table class="bars"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></figure>'
    )


def numbered(runs: list[tuple[Any, ...]], count: int | None) -> list[tuple[int, tuple[Any, ...]]]:
    """Runs numbered 1, 2, 3… in the order they ran (not by run-log id, which other runs share); the
    shown runs are the last of `count` runs of their kind."""
    first = (count if count is not None else len(runs)) - len(runs) + 1
    return [(first + index, run) for index, run in enumerate(runs)]


def grouped_builds(builds: list[tuple[int, str, list[float]]]) -> list[tuple[str, list[float]]]:
    """Consecutive builds with the same figures (to 0.1 %) as one row: "builds 3–7 (5)"."""
    groups: list[list[tuple[int, str, list[float]]]] = []
    for build in builds:
        if groups and [round(v, 1) for v in groups[-1][-1][2]] == [round(v, 1) for v in build[2]]:
            groups[-1].append(build)
        else:
            groups.append([build])
    rows = []
    for group in groups:
        (first, when, values), last = group[0], group[-1][0]
        label = f"build {first} ({when})" if len(group) == 1 else f"builds {first}–{last} ({len(group)} alike)"
        rows.append((label, values))
    return rows


def table(headers: list[str], rows: list[list[Any]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def gather(cur: Any) -> dict[str, Any]:
    """Everything the report shows, straight from the database."""
    data: dict[str, Any] = {}
    cur.execute("select domain_name, company_id_source, row_count, distinct_names from marts.resolution_statistics")
    data["tiers"] = cur.fetchall()
    cur.execute(
        f"select run_id, started_at, details from {SCHEMA}.run_log where run_kind = 'build' and status = 'success' "  # noqa: S608
        "order by run_id desc limit 20"
    )
    data["builds"] = list(reversed(cur.fetchall()))
    cur.execute(f"select count(*) from {SCHEMA}.run_log where run_kind = 'build' and status = 'success'")  # noqa: S608
    data["build_count"] = cur.fetchone()[0]
    cur.execute(f"select status, count(*) from {SCHEMA}.enrichment_requests group by 1 order by 1")  # noqa: S608
    data["queue"] = cur.fetchall()
    cur.execute(
        f"select run_id, started_at, details from {SCHEMA}.run_log where run_kind = 'drain' "  # noqa: S608
        "and details ? 'stats' order by run_id desc limit 20"
    )
    data["drains"] = list(reversed(cur.fetchall()))
    cur.execute(f"select count(*) from {SCHEMA}.run_log where run_kind = 'drain' and details ? 'stats'")  # noqa: S608
    data["drain_count"] = cur.fetchone()[0]
    cur.execute(
        f"select run_id, extract(epoch from called_at)::float8 from {SCHEMA}.eqc_calls "  # noqa: S608
        "where run_id = any(%s) order by run_id, called_at",
        ([run_id for run_id, _, _ in data["drains"]],),
    )
    data["drain_call_times"] = {}
    for run_id, moment in cur.fetchall():
        data["drain_call_times"].setdefault(run_id, []).append(moment)
    cur.execute(
        "select normalized_name, temporary_id, row_count, asset_volume from marts.unresolved_names "
        "order by impact_rank, normalized_name limit 15"
    )
    data["unresolved"] = cur.fetchall()
    cur.execute(f"select max(started_at) from {SCHEMA}.run_log where run_kind = 'report'")  # noqa: S608
    data["last_report_at"] = cur.fetchone()[0]
    cur.execute(
        f"select temp_id, normalized_name, replaced_by_company_id, replaced_at from {SCHEMA}.temporary_ids "  # noqa: S608
        "where replaced_at is not null and (%s::timestamptz is null or replaced_at > %s) order by replaced_at desc",
        (data["last_report_at"], data["last_report_at"]),
    )
    data["replaced"] = cur.fetchall()
    data["lookup_errors"] = gather_lookup_errors(cur)
    data.update(gather_review(cur))
    return data


def gather_lookup_errors(cur: Any) -> list[tuple[Any, ...]]:
    """Failed lookups, and pending ones whose last attempt failed, with their reasons."""
    cur.execute(
        f"select normalized_name, status, attempts, last_error, next_attempt_at from {SCHEMA}.enrichment_requests "  # noqa: S608
        "where status = 'failed' or (status = 'pending' and last_error is not null) "
        "order by status, updated_at desc limit 200"
    )
    return cur.fetchall()


def lookup_errors_section(rows: list[tuple[Any, ...]]) -> str:
    body = table(
        ["name", "status", "attempts", "reason", "next attempt"],
        [[n, s, a, e, f"{t:%Y-%m-%d %H:%M}" if s == "pending" else ""] for n, s, a, e, t in rows],
        "lookup-errors",
    )
    title = f"Lookups that failed or wait for a retry: {len(rows):,}"
    return f'<h2 id="lookup-errors-title" data-total="{len(rows)}">{title}</h2>\n{body}'


def gather_review(cur: Any) -> dict[str, Any]:
    """Names waiting for review, decisions in force, and the evidence behind the cache's entries."""
    cur.execute(
        f"select normalized_name, max(row_count), max(asset_volume), "  # noqa: S608
        "max(case when jsonb_typeof(review_candidates) = 'array' then jsonb_array_length(review_candidates) "
        "when review_candidate is not null then 1 else 0 end), max(coalesce(review_reason, '')) "
        f"from {SCHEMA}.enrichment_requests where status = 'needs_review' group by 1 order by 2 desc, 3 desc, 1"
    )
    waiting = cur.fetchall()
    cur.execute(
        f"select decision, count(*) filter (where undone_at is null), count(*) filter (where undone_at is not null) "  # noqa: S608
        f"from {SCHEMA}.review_decisions group by 1 order by 1"
    )
    decided = cur.fetchall()
    cur.execute(
        f"select coalesce(evidence, 'no evidence (' || source || ')'), count(*) from {SCHEMA}.company_name_index "  # noqa: S608
        "group by 1 order by 2 desc, 1"
    )
    mix = cur.fetchall()
    return {"review_waiting": waiting, "review_decided": decided, "evidence_mix": mix, **gather_verification(cur)}


def gather_verification(cur: Any) -> dict[str, Any]:
    """Verified and unverified cache entries, and what the last drain's re-checks changed."""
    cur.execute(
        f"select count(*) filter (where is_verified), count(*) filter (where not is_verified), "  # noqa: S608
        f"count(*) filter (where not is_verified and recheck_outcome = 'unsettled'), "
        f"(select count(*) from {SCHEMA}.retired_cache_entries) from {SCHEMA}.company_name_index"
    )
    verified, unverified, unsettled, retired = cur.fetchone()
    cur.execute(
        f"select details -> 'stats' from {SCHEMA}.run_log where run_kind = 'drain' and status <> 'running' "  # noqa: S608
        "order by run_id desc limit 1"
    )
    stats = (cur.fetchone() or [None])[0] or {}
    rechecks = {k: int(stats.get(k, 0)) for k in ("rechecked", "recheck_confirmed", "recheck_contradicted",
                                                   "recheck_replaced", "recheck_unsettled")}  # fmt: skip
    return {"verification": {"verified": verified, "unverified": unverified, "unsettled": unsettled,
                             "retired": retired, **rechecks}}  # fmt: skip


def render_review(data: dict[str, Any]) -> str:
    """The review section: waiting and decided names, the top names by impact, the evidence mix."""
    waiting, decided, mix = data["review_waiting"], data["review_decided"], data["evidence_mix"]
    in_force = sum(count for _, count, _ in decided)
    decisions = bar_chart(
        "review-decisions",
        "review decisions in force (and undone)",
        [Bar(d.replace("_", " "), [n, u]) for d, n, u in decided],
        ["in force", "undone"],
        in_force,
        counted="decisions in force",
    )
    evidence = bar_chart("evidence-mix", "cache entries by evidence", [Bar(kind, [n]) for kind, n in mix],
                         ["entries"], sum(n for _, n in mix), counted="entries")  # fmt: skip
    rows = [[name, f"{r:,}", yuan(float(a or 0)), c, why] for name, r, a, c, why in waiting[:15]]
    top = table(["name", "rows", "assets (yuan)", "candidates", "why it waits"], rows, "review-top")
    v = data.get("verification") or {}
    verification = (
        f'<p id="cache-verification" data-verified="{v.get("verified", 0)}" data-unverified="{v.get("unverified", 0)}" '
        f'data-retired="{v.get("retired", 0)}">Cache entries verified: {v.get("verified", 0):,}; unverified '
        f"(imported or without evidence; never above a row's own code, re-checked by the drain): "
        f"{v.get('unverified', 0):,}, of which unsettled by a re-check: {v.get('unsettled', 0):,}; retired after a "
        f"re-check contradicted them: {v.get('retired', 0):,}. The last drain re-checked {v.get('rechecked', 0):,}: "
        f"confirmed {v.get('recheck_confirmed', 0):,}, retired {v.get('recheck_contradicted', 0):,} "
        f"({v.get('recheck_replaced', 0):,} replaced by the company the registry names), unsettled "
        f"{v.get('recheck_unsettled', 0):,}.</p>"
        if v
        else ""
    )
    return (
        f'<h2 id="review-title" data-waiting="{len(waiting)}" data-decided="{in_force}">Review: {len(waiting):,} '
        f"names waiting, {in_force:,} decisions in force</h2>"
        f"<p>Decide with <code>python -m python_enrich.review</code>. Top names waiting by impact:</p>"
        f"{top}{decisions}{evidence}{verification}"
    )


def render(data: dict[str, Any], generated_at: datetime) -> str:
    charts = []
    # 1. rows and distinct names by tier, per domain
    tiers = {(d, t): (rows, names) for d, t, rows, names in data["tiers"]}
    for domain in DOMAINS:
        bars = [Bar(t, [tiers[(domain, t)][0], tiers[(domain, t)][1]]) for t in TIERS if (domain, t) in tiers]
        total = sum(tiers[(domain, t)][0] for t in TIERS if (domain, t) in tiers)
        charts.append(
            bar_chart(
                f"tiers-{domain}",
                f"{domain}: rows and distinct names by resolution tier",
                bars,
                ["rows", "distinct names"],
                total,
                counted="rows",
            )
        )
    # 2. per build: cache hit rate (entries that existed before the build), own codes, keys the build
    #    learned from other rows' codes (backflow), temporary ids, as % of rows
    builds = []
    for ordinal, (_, started_at, details) in numbered(data["builds"], data.get("build_count")):
        split = split_by_evidence((e["company_id_source"], e["row_count"]) for e in details.get("tiers", []))
        rows = split["rows"] or 1
        builds.append((ordinal, f"{started_at:%m-%d %H:%M}", [100 * split[kind] / rows for kind in EVIDENCE]))
    build_columns = [
        Column(header, header, percent) for header in ("cache hit %", "existing code %", "backflow %", "temporary id %")
    ]
    charts.append(bar_table("builds", "per build: cache hit rate, own codes, backflow, temporary ids (% of rows)",
                            build_columns, grouped_builds(builds), len(builds), "builds"))  # fmt: skip
    # 3. queue depth by status
    queue_total = sum(count for _, count in data["queue"])
    charts.append(
        bar_chart(
            "queue",
            "lookup queue by status",
            [Bar(s, [c]) for s, c in data["queue"]],
            ["requests"],
            queue_total,
            counted="requests",
        )
    )
    # 4. drain runs: outcomes and achieved rate against the limit
    drain_bars, rate_bars = [], []
    for ordinal, (run_id, _, details) in numbered(data["drains"], data.get("drain_count")):
        stats, options = details["stats"], details.get("options", {})
        errors = stats.get("retried_later", 0) + stats.get("failed", 0)
        drain_bars.append(Bar(f"drain {ordinal}", [stats["lookups"], stats["found"], stats["not_found"], errors]))
        limit, _, window = str(options.get("rate_limit", "0/1")).partition("/")
        window_s = float(window or 1)
        # Calls in the run's busiest window of the limit's length, per minute: a 6-second burst of
        # 100 calls under 600/60 is 100/min, not 1,000/min extrapolated from 6 seconds.
        times = data.get("drain_call_times", {}).get(run_id)
        peak = busiest_window(times, window_s) if times else stats["calls"]
        label = f"drain {ordinal}"
        if stats.get("wall_s", 0) < window_s:
            label += f" ({stats.get('wall_s', 0):.0f} s burst)"
        rate_bars.append(Bar(label, [peak * 60 / window_s, float(limit) / window_s * 60]))
    outcomes = ["lookups", "found", "not found", "errors"]
    charts.append(bar_chart("drains", "drain runs: lookups and outcomes", drain_bars, outcomes,
                            sum(b.values[0] for b in drain_bars), counted="lookups"))  # fmt: skip
    charts.append(
        bar_chart(
            "drain-rates",
            "drain runs: calls/min in the busiest rate-limit window vs the limit",
            rate_bars,
            ["busiest window", "limit"],
            len(rate_bars),
            counted="drain runs",
        )
    )
    # 5. top unresolved names
    unresolved = data["unresolved"]
    charts.append(bar_table("unresolved", "top unresolved names: rows and assets, each on its own scale",
                            [Column("rows", "rows", number), Column("assets (yuan)", "assets", yuan)],
                            [(name, [rows, float(assets or 0)]) for name, _, rows, assets in unresolved],
                            sum(r for _, _, r, _ in unresolved),
                            counted=f"rows of these {len(unresolved)} names"))  # fmt: skip
    replaced = data["replaced"]
    since = f"since the last report ({data['last_report_at']:%Y-%m-%d %H:%M})" if data["last_report_at"] else "so far"
    replaced_table = table(["temporary id", "name", "real id", "replaced at"],
                           [[t, n, c, f"{r:%Y-%m-%d %H:%M}"] for t, n, c, r in replaced[:200]], "replaced")  # fmt: skip
    return f"""<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>Company-id enrichment report</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; }} h1 {{ font-size: 22px; }}
figure.chart {{ margin: 0 0 28px; }} figcaption {{ font-weight: bold; margin-bottom: 4px; }}
.total {{ font-weight: normal; color: #555; margin-left: 8px; }} .label, .value {{ font-size: 12px; }}
.legend .key {{ margin-right: 12px; font-size: 12px; }}
.legend i {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; }}
table {{ border-collapse: collapse; font-size: 12px; }} td, th {{ border: 1px solid #ccc; padding: 2px 6px; }}
table.bars th.label {{ text-align: left; font-weight: normal; }} td.figure {{ white-space: nowrap; }}
td.figure .value {{ display: inline-block; min-width: 110px; text-align: right; }}
.none-yet {{ color: #777; font-style: italic; margin: 4px 0 0; }}
</style></head><body>
<h1>Company-id enrichment report</h1><p>Written {generated_at:%Y-%m-%d %H:%M:%S %Z} from the database.</p>
{"".join(charts)}
<h2 id="replaced-title" data-total="{len(replaced)}">Temporary ids replaced {since}: {len(replaced):,}</h2>
{replaced_table}
{lookup_errors_section(data.get("lookup_errors", []))}
{render_review(data)}
</body></html>
"""


def write_report(out: Path) -> dict[str, Any]:
    conn = connect()
    try:
        with conn, conn.cursor() as cur:
            data = gather(cur)
            generated_at = datetime.now(timezone.utc)
            out.write_text(render(data, generated_at), encoding="utf-8")
            cur.execute(
                f"insert into {SCHEMA}.run_log (run_kind, finished_at, status, details) "  # noqa: S608
                "values ('report', now(), 'success', %s)",
                (json.dumps({"out": str(out), "replaced": len(data["replaced"])}),),
            )
        return data
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m python_enrich.report", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("report.html"), help="the HTML file to write")
    args = parser.parse_args(argv)
    if read_warehouse(lambda: write_report(args.out), "report") is None:
        return 1
    print(f"report written to {args.out.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
