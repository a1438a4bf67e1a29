"""Bad local input gets one clear line and an exit code, never a traceback, and nothing is written
or lost: names of any length, formula-like and escape-laden names, bad arguments and settings,
too many connections, override files in odd encodings or empty, old cache rows with bad values."""

from __future__ import annotations

import csv
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from python_enrich import cache, drain, export, overrides, report
from python_enrich.envvars import environment
from python_enrich.normalization import normalize_company_name
from python_enrich.standins import sample
from tests.conftest import DbtProject, fresh_database

# 1,504 characters (4,512 bytes in UTF-8) that do not compress: beyond a btree entry's 2,704 bytes.
LONG_NAME = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(1500)) + "有限公司"
LONG_NAME_WITH_CODE = "".join(chr(0x4E00 + (i * 104729) % 20000) for i in range(1500)) + "有限公司"
FORMULAS = ['=HYPERLINK("http://evil.example","点我")', "+1+1公司", "-2+3公司", "@SUM(A1)公司", "\t制表符公司"]
ESCAPES = "\x1b[2J\x1b]0;pwned\x07终端转义有限公司"
STATE_TABLES = ("run_log", "enrichment_requests", "company_name_index", "eqc_calls")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtProject]:
    """A small sample plus hostile names, seeded and built once."""
    with environment(WDH_ALIAS_SALT=f"pytest-salt-{secrets.token_hex(4)}"), fresh_database("wdh_badinput") as name:
        project = DbtProject(name, tmp_path_factory.mktemp("dbt"))
        sample.generate(300, seed=11)
        rows = [(n, None) for n in [LONG_NAME, *FORMULAS, ESCAPES]] + [(LONG_NAME_WITH_CODE, "600000777")]
        for customer, code in rows:
            project.query(
                "insert into raw.annuity_performance (月度, 计划代码, 客户名称, 公司代码) values "
                "('2025-01-01', 'PBAD', %s, %s)",
                (customer, code),
            )
        project.run("seed")
        project.run("run")  # dbt's tests run on test_names_of_any_length_build_and_queue's build
        yield project


def snapshot(project: DbtProject) -> dict[str, list[tuple[object, ...]]]:
    return {t: sorted(map(repr, project.query(f"select * from enrichment.{t}"))) for t in STATE_TABLES}


def test_names_of_any_length_build_and_queue(warehouse: DbtProject) -> None:
    queued = {n for (n,) in warehouse.query("select normalized_name from enrichment.enrichment_requests")}
    assert normalize_company_name(LONG_NAME) in queued
    rows = warehouse.query(
        "select company_id, company_id_source from marts.annuity_performance where customer_name = %s",
        (LONG_NAME_WITH_CODE,),
    )
    assert [company_id for company_id, _ in rows] == ["600000777"]
    warehouse.run("build")  # a second build refreshes the queue through the hashed unique index
    assert warehouse.query(
        "select count(*) from enrichment.enrichment_requests where normalized_name = %s and status = 'pending'",
        (normalize_company_name(LONG_NAME),),
    ) == [(1,)]


def test_export_neutralises_formulas_and_shows_lookup_reasons(warehouse: DbtProject, tmp_path: Path) -> None:
    warehouse.query(
        "update enrichment.enrichment_requests set status = 'failed', attempts = 5, "
        "last_error = 'the search answer is null' where normalized_name = %s",
        (normalize_company_name(FORMULAS[0]),),
    )
    out = tmp_path / "unresolved.csv"
    with warehouse.selected():
        assert export.main(["unresolved", "--out", str(out)]) == 0
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    cells = [cell for row in rows for cell in row.values()]
    assert not [cell for cell in cells if cell and cell[0] in "=+-@\t\r"]
    by_raw = {row["company_name"]: row for row in rows}
    for name in FORMULAS:
        assert "'" + name in by_raw  # the text kept, behind a leading quote
    failed = by_raw["'" + FORMULAS[0]]
    assert (failed["lookup_status"], failed["lookup_attempts"], failed["lookup_error"]) == (
        "failed",
        "5",
        "the search answer is null",
    )
    with warehouse.selected():
        report.write_report(tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="lookup-errors"' in page and "the search answer is null" in page


def test_dry_run_shows_control_characters_escaped(warehouse: DbtProject, capsys: pytest.CaptureFixture[str]) -> None:
    with warehouse.selected():
        assert drain.main(["--budget", "1000", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2J\\x1b]0;PWNED\\x07" in out


@pytest.mark.parametrize(
    ("args", "setting"),
    [
        (["--budget", "-1"], "--budget"),
        (["--budget", "5", "--lease", "0"], "--lease"),
        (["--budget", "5", "--lease", "-10"], "--lease"),
        (["--budget", "5", "--timeout", "0"], "--timeout"),
        (["--budget", "5", "--timeout", "nan"], "--timeout"),
        (["--budget", "5", "--concurrency", "1000"], "--concurrency"),
        (["--budget", "5", "--concurrency", "0"], "--concurrency"),
        (["--budget", "5", "--max-attempts", "0"], "--max-attempts"),
        (["--budget", "5", "--retries", "-1"], "--retries"),
        (["--budget", "5", "--retry-delay", "-1"], "--retry-delay"),
        (["--budget", "5", "--former-name-checks", "11"], "--former-name-checks"),
        (["--budget", "5", "--not-found-retry-days", "inf"], "--not-found-retry-days"),
        (["--budget", "5", "--rate-limit", "0/60"], "--rate-limit"),
    ],
)
def test_bad_drain_arguments_are_one_line_and_exit_2(
    warehouse: DbtProject, capsys: pytest.CaptureFixture[str], args: list[str], setting: str
) -> None:
    before = snapshot(warehouse)
    with warehouse.selected(), pytest.raises(SystemExit) as stopped:
        drain.main(args)
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f"argument {setting}" in lines[0], lines
    others = {"--budget", "--lease", "--timeout", "--concurrency", "--max-attempts", "--retries"} - {setting}
    assert not [other for other in others if other + ":" in lines[0] or other + " " in lines[0]]  # just the one
    assert snapshot(warehouse) == before


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "eqc.example.com",
        "ftp://eqc.example.com",
        "http://",
        "http://eqc.example.com:99999",
        "http://eqc.example.com:port",
        "https://user:secret@eqc.example.com",
        "https://eqc.example.com/?x=1",
        "https://eqc.example.com/\x1b[2J",
    ],
)
def test_a_malformed_base_url_is_refused_before_anything_runs(
    warehouse: DbtProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    before = snapshot(warehouse)
    monkeypatch.setenv("WDH_EQC_BASE_URL", url)
    monkeypatch.setenv("WDH_EQC_TOKEN", "some-token-0123456789")
    with warehouse.selected():
        assert drain.main(["--budget", "5", "--progress", "none"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: WDH_EQC_BASE_URL "), lines
    assert "secret" not in lines[0] and "\x1b" not in lines[0]
    assert snapshot(warehouse) == before


@pytest.mark.alone  # it leaves the server 4 free connections: no other worker may need more meanwhile
def test_more_workers_than_free_connections_is_refused_and_closes_its_run(
    warehouse: DbtProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.hostile_registry import HostileRegistry

    requests_before = snapshot(warehouse)["enrichment_requests"]
    held: list[object] = []
    try:
        free = warehouse.query(
            "select current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int"
            " - (select count(*) from pg_stat_activity where backend_type = 'client backend')"
        )[0][0]
        held = [psycopg2.connect(dbname=warehouse.database) for _ in range(free - 4)]
        with HostileRegistry("tok-0123456789abcdef") as registry:
            monkeypatch.setenv("WDH_EQC_BASE_URL", registry.url)
            monkeypatch.setenv("WDH_EQC_TOKEN", "tok-0123456789abcdef")
            with warehouse.selected():
                code = drain.main(["--budget", "5", "--concurrency", "8", "--progress", "none"])
            assert [seen.path for seen in registry.seen] == ["/kg-api-hfd/api/search/searchAll"]  # no lookup
    finally:
        for conn in held:
            conn.close()  # type: ignore[attr-defined]
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --concurrency 8 needs 8 database connections"), lines
    status, details = warehouse.query("select status, details from enrichment.run_log order by run_id desc limit 1")[0]
    assert status == "error" and "--concurrency 8" in details["error"]
    assert snapshot(warehouse)["enrichment_requests"] == requests_before  # nothing claimed


# -- override files ------------------------------------------------------------------------------
NAME_FILE = "company_id_overrides_name.yml"
NAME_SEED = "company_id_overrides_name.csv"
ENTRIES = "# 名称覆盖\n'甲公司（已转出）': '600000001'\n'乙公司': '600000002'\n"


def import_dir(tmp_path: Path, data: bytes, *extra: str) -> tuple[int, Path]:
    old, seeds = tmp_path / "old", tmp_path / "seeds"
    old.mkdir(exist_ok=True)
    seeds.mkdir(exist_ok=True)
    (old / NAME_FILE).write_bytes(data)
    return overrides.main(["import", str(old), "--seeds-dir", str(seeds), *extra]), seeds / NAME_SEED


@pytest.mark.parametrize(
    "encoding",
    ["utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16"],  # utf-16 writes a byte-order mark
)
def test_override_files_are_read_in_their_real_encoding(tmp_path: Path, encoding: str) -> None:
    code, seed = import_dir(tmp_path, ENTRIES.encode(encoding))
    assert code == 0
    with seed.open(encoding="utf-8", newline="") as handle:
        assert [(r["customer_name"], r["company_id"]) for r in csv.DictReader(handle)] == [
            ("甲公司（已转出）", "600000001"),
            ("乙公司", "600000002"),
        ]


KEEP = "customer_name,company_id,note\n保留公司,600000009,\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (ENTRIES.encode("utf-16-le"), f"{NAME_FILE}: not readable as UTF-8, GB18030/GBK or UTF-16"),
        (ENTRIES.encode("utf-32"), f"{NAME_FILE}: not readable as UTF-8, GB18030/GBK or UTF-16"),
        (b"'\x80\x81\xff': '600000001'\n", f"{NAME_FILE}: not readable as UTF-8, GB18030/GBK or UTF-16"),
        (b"# only a comment\n", f"{NAME_FILE} has no entries and would empty {NAME_SEED} (1 entries)"),
        (b"", f"{NAME_FILE} has no entries and would empty {NAME_SEED} (1 entries)"),
        (
            "'甲公司（已转出）': '600000001'\n'甲公司': '600000002'\n".encode(),
            "'甲公司（已转出）' (line 1, id 600000001) and '甲公司' (line 2, id 600000002) are the same key",
        ),
    ],
)
def test_bad_override_files_change_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, message: str
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / NAME_SEED).write_text(KEEP, encoding="utf-8")
    code, seed = import_dir(tmp_path, data)
    assert code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert seed.read_text(encoding="utf-8") == KEEP


def test_an_empty_file_empties_its_seed_only_when_asked(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / NAME_SEED).write_text(KEEP, encoding="utf-8")
    code, seed = import_dir(tmp_path, b"# nothing any more\n", "--allow-empty")
    assert code == 0
    assert seed.read_text(encoding="utf-8") == "customer_name,company_id,note\n"


def test_same_normalized_key_with_the_same_id_is_fine(tmp_path: Path) -> None:
    code, _ = import_dir(tmp_path, "'甲公司（已转出）': '600000001'\n'甲公司': '600000001'\n".encode())
    assert code == 0


# -- cache import --------------------------------------------------------------------------------
def test_cache_import_skips_bad_ids_and_confidences_by_reason(
    warehouse: DbtProject, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse.query(
        "create schema if not exists enterprise; drop table if exists enterprise.old_index; "
        "create table enterprise.old_index (lookup_key text, lookup_type text, company_id text, "
        "confidence double precision, source text)"
    )
    warehouse.query(
        "insert into enterprise.old_index values "
        "('好的导入有限公司', 'customer_name', '600000100', 0.9, 'eqc'), "
        "('非数有限公司', 'customer_name', '600000101', 'NaN', 'eqc'), "
        "('无穷有限公司', 'customer_name', '600000102', 'Infinity', 'eqc'), "
        "('空置信有限公司', 'customer_name', '600000103', null, 'eqc'), "
        "('过高有限公司', 'customer_name', '600000104', 1.5, 'eqc'), "
        "('负数有限公司', 'customer_name', '600000105', -0.1, 'eqc'), "
        "('零号有限公司', 'customer_name', '0', 1, 'eqc'), "
        "('浮点号有限公司', 'customer_name', '6100000000.0', 1, 'eqc'), "
        "('全角号有限公司', 'customer_name', '１２３', 1, 'eqc'), "
        "('超长号有限公司', 'customer_name', repeat('9', 21), 1, 'eqc'), "
        "('空号有限公司', 'customer_name', null, 1, 'eqc')"
    )
    cache_before = snapshot(warehouse)["company_name_index"]
    with warehouse.selected():
        assert cache.main(["import", "--table", "old_index", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["skipped"] == {
        "confidence is NaN or infinite": 2,
        "confidence is NULL": 1,
        "confidence outside 0..1": 2,
        "company_id is not a real id (1-20 digits, not all zeros)": 5,
    }
    assert (summary["read"], summary["usable"], summary["inserted"]) == (11, 1, 1)
    added = set(snapshot(warehouse)["company_name_index"]) - set(cache_before)
    assert len(added) == 1 and "好的导入有限公司" in next(iter(added))


def test_terminal_text_is_escaped() -> None:
    from python_enrich.safe_output import for_csv, for_terminal

    assert for_terminal("a\x1b[31mb\u202ec\n") == "a\\x1b[31mb\\u202ec\\n"
    assert for_terminal("平安保险") == "平安保险"
    assert [for_csv(v) for v in ["=1", "+1", "-1", "@x", "\tx", "\rx", "ok", 5, None]] == [
        "'=1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "ok", 5, None,
    ]  # fmt: skip
