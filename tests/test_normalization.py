"""The Python normalizer and temporary ids against the specs and their reference data."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from python_enrich import temp_id as temp_id_module
from python_enrich.normalization import normalize_company_name
from python_enrich.temp_id import PUBLIC_DEFAULT_SALT, temp_company_id, temp_id_for_normalized
from tests.reference_data import DATA_DIR

REFERENCE = DATA_DIR / "normalization_cases.json"


def reference_cases() -> list[dict[str, str | None]]:
    return json.loads(Path(REFERENCE).read_text(encoding="utf-8"))["cases"]


def test_reference_file_is_there_and_large() -> None:
    assert len(reference_cases()) >= 200


@pytest.mark.parametrize("case", reference_cases(), ids=lambda c: repr(c["input"])[:40])
def test_reference_case(case: dict[str, str | None]) -> None:
    assert normalize_company_name(case["input"]) == case["expected"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (123, ""),  # non-text
        ("Null", "NULL"),  # not a placeholder; the spec's non-idempotence quirk
        ("原平市化工有限公司", "平市化工有限公司"),  # start markers ignore word boundaries
        ("X-养老-福利", "X-养老"),  # one business suffix only
        ("某公司（北京）", "某公司"),  # trailing region brackets are cut
        ("某（特殊普通合伙）", "某（特殊普通合伙）"),  # unless they name a legal form
        ("a\u200bb", "A\u200bB"),  # zero-width space is not whitespace
        ("straße", "STRASSE"),  # Unicode-wide upper case
        (" 保留账户管理 ", "保留账户管理"),  # protected
    ],
)
def test_spec_rules(name: object, expected: str) -> None:
    assert normalize_company_name(name) == expected


def test_known_temp_ids() -> None:
    assert temp_company_id("平安相伴今生企业年金集合计划", PUBLIC_DEFAULT_SALT) == "INXELNISM3IAVLLWF5"
    assert temp_id_for_normalized("", PUBLIC_DEFAULT_SALT) == "IN7KZNPWPCVQXJ6AY7"


def test_temp_id_shape_and_salt_dependence() -> None:
    first = temp_company_id("某公司", "salt-one")
    assert first is not None and re.fullmatch(r"IN[A-Z2-7]{16}", first)
    assert first == temp_company_id("某公司-已转出", "salt-one")  # same company, same id
    assert first != temp_company_id("某公司", "salt-two")


def test_empty_names_get_no_temp_id() -> None:
    for name in (None, "", "  ", "空白", "N/A", "——"):
        assert temp_company_id(name, "s") is None


def test_default_salt_warns_loudly_without_revealing_a_salt(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("WDH_ALIAS_SALT", raising=False)
    monkeypatch.setattr(temp_id_module, "_warned_default", False)
    with caplog.at_level(logging.WARNING):
        assert temp_id_module.salt_from_env() == PUBLIC_DEFAULT_SALT
    assert "PUBLIC default salt" in caplog.text
    monkeypatch.setenv("WDH_ALIAS_SALT", "my-secret-salt")
    caplog.clear()
    assert temp_id_module.salt_from_env() == "my-secret-salt"
    assert "my-secret-salt" not in caplog.text


def test_the_default_salt_warning_is_said_once_per_process_where_no_marker_can_be_kept(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Where the once-per-shell marker cannot be written (a read-only home), the warning is still
    said once in a process, not on every call."""
    monkeypatch.delenv("WDH_ALIAS_SALT", raising=False)
    monkeypatch.setattr(temp_id_module, "_warned_default", False)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))  # creating the marker folder fails
    with caplog.at_level(logging.WARNING):
        salts = {temp_id_module.salt_from_env() for _ in range(3)}
    assert salts == {PUBLIC_DEFAULT_SALT}
    assert caplog.text.count("PUBLIC default salt") == 1


def test_generated_sql_tables_match_this_python() -> None:
    """The SQL normalizer's Unicode tables and rule lists come from python_enrich; a change to
    either side without `python -m python_enrich.sqlgen` would break parity silently."""
    from python_enrich.tools import sqlgen

    assert sqlgen.TABLES_FILE.read_text(encoding="utf-8") == sqlgen.render()


def test_no_salt_configured_gives_the_old_warehouse_ids(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Users migrating without a salt keep the old public default's ids, and are warned once."""
    monkeypatch.delenv("WDH_ALIAS_SALT", raising=False)
    monkeypatch.setattr(temp_id_module, "_warned_default", False)
    with caplog.at_level(logging.WARNING):
        assert temp_company_id("平安相伴今生企业年金集合计划") == "INXELNISM3IAVLLWF5"
        assert temp_company_id("平安相伴今生企业年金集合计划-已转出") == "INXELNISM3IAVLLWF5"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "WDH_ALIAS_SALT is not set: temporary ids use the PUBLIC default salt of the old warehouse. "
        "Anyone can recompute them; set WDH_ALIAS_SALT to your own secret for production data "
        "(README: Choosing a salt). Said once per shell."
    ]
    monkeypatch.setenv("WDH_ALIAS_SALT", "")  # set but empty is no salt either
    assert temp_company_id("平安相伴今生企业年金集合计划") == "INXELNISM3IAVLLWF5"
