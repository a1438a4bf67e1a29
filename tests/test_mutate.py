"""How ./run mutate turns mutmut's verdicts into a score (the run itself is a command, not a test)."""

from __future__ import annotations

from pathlib import Path

from python_enrich.tools.mutate import read_equivalents, render, score_modules


def test_score_counts_no_tests_against_and_equivalents_out() -> None:
    statuses = {
        "python_enrich/a.py": {
            "a.x_f__mutmut_1": "killed",
            "a.x_f__mutmut_2": "timeout",
            "a.x_f__mutmut_3": "survived",
            "a.x_f__mutmut_4": "no tests",
            "a.x_f__mutmut_5": "survived",  # listed as equivalent
            "a.x_f__mutmut_6": "skipped",
        },
        "python_enrich/b.py": {"b.x_g__mutmut_1": "killed"},
    }
    result = score_modules(statuses, {"a.x_f__mutmut_5": "same result", "b.x_g__mutmut_1": "stale"})
    assert result["modules"]["python_enrich/a.py"] == {
        "mutants": 6, "killed": 2, "survived": 1, "no_tests": 1, "equivalent": 1, "score": 50.0,
    }  # fmt: skip
    assert result["modules"]["python_enrich/b.py"]["score"] == 100.0
    assert result["total"] == {"mutants": 7, "killed": 3, "score": 60.0}
    assert result["survivors"] == ["a.x_f__mutmut_3: survived", "a.x_f__mutmut_4: no tests"]
    assert result["stale_equivalents"] == ["b.x_g__mutmut_1"]
    text = render(result)
    assert "python_enrich/a.py                         6       2        1        1      1   50.0%" in text
    assert "note: b.x_g__mutmut_1 is listed as equivalent but no longer survives" in text


def test_equivalents_file_lists_a_reason_for_each(tmp_path: Path) -> None:
    listed = read_equivalents()
    assert listed and all(reason for reason in listed.values())
    sample = tmp_path / "eq.txt"
    sample.write_text("# comment\nm.x_f__mutmut_1 codec names are case-insensitive  # why\n\n", encoding="utf-8")
    assert read_equivalents(sample) == {"m.x_f__mutmut_1": "codec names are case-insensitive"}
