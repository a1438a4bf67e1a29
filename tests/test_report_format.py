"""The report's figures read as people expect: separators, no exponents, honest rates and totals."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from python_enrich.report import busiest_window, number, render

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)


def test_numbers_have_separators_and_no_exponents() -> None:
    assert [number(v) for v in (20510.0, 1_333_333.0, 86.94, 4.5, 0.123, 0.0)] == [
        "20,510", "1,333,333", "86.9", "4.50", "0.12", "0",
    ]  # fmt: skip


def test_busiest_window_counts_what_the_rate_limit_bounds() -> None:
    assert busiest_window([], 60) == 0
    assert busiest_window([0.06 * i for i in range(100)], 60) == 100  # a 6-second burst: 100 calls in one window
    assert busiest_window([float(i) for i in range(130)], 60) == 60  # one a second for 130 s
    assert busiest_window([0.0, 59.9, 60.0, 119.95], 60) == 2


def drain_run(run_id: int, calls: int, wall_s: float) -> tuple[int, datetime, dict[str, object]]:
    stats = {"lookups": calls - 1, "found": calls - 1, "not_found": 0, "calls": calls, "wall_s": wall_s}
    return run_id, NOW, {"stats": stats, "options": {"rate_limit": "600/60"}}


def test_rendered_report_shows_honest_rates_and_meaningful_totals() -> None:
    data = {
        "tiers": [("annuity_performance", "cache_plan_customer", 20_510, 1_900), ("annuity_income", "none", 7, 7)],
        "builds": [(1, NOW, {"tiers": [{"company_id_source": "temporary", "row_count": 30}]})],
        "queue": [("pending", 1_234_567)],
        # a 6-second drain of 102 calls (1,020 calls/min extrapolated) and a 750-second one at 8 calls/s
        "drains": [drain_run(7, 102, 6.0), drain_run(8, 6_000, 750.0)],
        "drain_call_times": {7: [i * 0.06 for i in range(102)], 8: [i * 0.125 for i in range(6_000)]},
        "unresolved": [("某公司", "INAAAAAAAAAAAAAAAA", 12, 3_400_000)],
        "last_report_at": None,
        "replaced": [],
        "lookup_errors": [],
        "review_waiting": [("待定公司", 40, 2_500_000, 3, "no evidence")],
        "review_decided": [("accept", 2, 1)],
        "evidence_mix": [("exact_name", 12_345)],
    }
    html = render(data, NOW)
    assert "12,345 entries" in html and "2 decisions in force" in html
    assert not re.search(r"\d\.\d+e[+-]\d", re.sub(r'data-[a-z]+="[^"]*"', "", html))
    assert ">20,510<" in html and "1,234,567 requests" in html
    rates = re.search(r'<figure class="chart" id="drain-rates".*?</figure>', html, re.S).group(0)
    shown = [float(v) for v in re.findall(r'data-series="busiest window" data-value="([^"]+)"', rates)]
    assert shown == [102.0, 480.0]  # 102/min, not 1,020/min extrapolated from 6 s; 8 calls/s = 480
    assert "drain 1 (6 s burst)" in rates and "drain 2 (" not in rates  # numbered in order, not by run id
    builds = re.search(r'<figure class="chart" id="builds".*?</figure>', html, re.S).group(0)
    assert '<span class="total">1 builds</span>' in builds or '<span class="total">1 build' in builds
    assert '<span class="total">total' not in html
