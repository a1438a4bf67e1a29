"""The drain against a hostile registry: every malformed answer of issue 17 stays with its own
request (given back or failed with its reason, nothing cached, no claim left, attempts within the
maximum) while the good names queued behind it resolve; redirects never carry the token away;
Retry-After and trickled bodies cannot hold the drain."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from python_enrich import drain
from python_enrich.eqc.client import EQCClient, RequestFailed, TransientError
from python_enrich.request_queue import SharedRateLimit
from tests.conftest import DbtProject, enqueue
from tests.hostile_registry import Answer, HostileRegistry, json_answer, raw_answer

TOKEN = "hostile-test-token-0123456789abcdef"
BAD = "坏答案测试有限公司"
GOOD = {f"好名字{i}有限公司": f"70000000{i}" for i in range(6)}


def item(company_id: object = "700000099", **fields: object) -> dict[str, object]:
    return {"companyId": company_id, "companyFullName": BAD, "type": "全称精确匹配", "rank_score": 1.0, **fields}


# Every malformed answer the issue names, and a few more, with the reason recorded on the request.
MALFORMED: dict[str, tuple[Answer, str]] = {
    "float id": (raw_answer('{"list": [{"companyId": 6.1e9, "companyFullName": "' + BAD + '"}]}'), "is a float"),
    "boolean id": (json_answer({"list": [item(True)]}), "is a boolean"),
    "object id": (json_answer({"list": [item({})]}), "is an object"),
    "letters id": (json_answer({"list": [item("ABC-123")]}), "not 1-20 ASCII digits"),
    "negative id": (json_answer({"list": [item("-5")]}), "not 1-20 ASCII digits"),
    "negative integer id": (json_answer({"list": [item(-5)]}), "not a positive number"),
    "zero id": (json_answer({"list": [item("0")]}), "all zeros"),
    "zeros id": (json_answer({"list": [item(0)]}), "not a positive number"),
    "full-width id": (json_answer({"list": [item("１２３４５")]}), "not 1-20 ASCII digits"),
    "100,000-digit id": (json_answer({"list": [item("9" * 100_000)]}), "not 1-20 ASCII digits"),
    "100,000-digit number": (raw_answer('{"list": [{"companyId": ' + "9" * 100_000 + "}]}"), "not JSON"),
    "rank_score text": (json_answer({"list": [item(rank_score="high")]}), "rank_score is text"),
    "rank_score NaN": (raw_answer('{"list": [{"companyId": "7", "rank_score": NaN}]}'), "not JSON"),
    "unite_code object": (json_answer({"list": [item(unite_code={})]}), "unite_code is an object"),
    "former names object": (json_answer({"list": [item(company_former_name={"a": 1})]}), "company_former_name"),
    "invalid UTF-8 name": (raw_answer(b'{"list": [{"companyId": "7", "companyFullName": "\xff\xfe"}]}'), "UTF-8"),
    "lone surrogate name": (raw_answer('{"list": [{"companyId": "7", "companyFullName": "\\udc80"}]}'), "invalid"),
    "escape codes in name": (json_answer({"list": [item(companyFullName="\x1b[2J甲公司")]}), "control characters"),
    "NUL in name": (json_answer({"list": [item(companyFullName="甲\x00公司")]}), "control characters"),
    "over-long name": (json_answer({"list": [item(companyFullName="长" * 1000)]}), "longer than 300"),
    "name is a number": (json_answer({"list": [item(companyFullName=12345)]}), "companyFullName is an integer"),
    "empty id and name": (json_answer({"list": [{"companyId": "", "companyFullName": ""}]}), "companyId is empty"),
    "null": (json_answer(None), "is null"),
    "a bare list": (json_answer([]), "is a list"),
    "nested list": (json_answer({"data": {"list": [item()]}}), "keys [data]"),
    "list is null": (json_answer({"list": None, "total": 0}), "not an object with a list"),
    "items without companyId": (json_answer({"list": [{"id": "7", "companyFullName": BAD}]}), "has a companyId"),
    "items not objects": (json_answer({"list": ["7", 7]}), "has a companyId"),
    "not JSON": (raw_answer("<html>login</html>"), "not JSON"),
    "error in body": (json_answer({"error": "SystemBusy\x1b[31m"}), "'SystemBusy\\x1b[31m'"),
    "HTTP 400": (json_answer({"msg": "bad"}, 400), "HTTP 400"),
    "redirect elsewhere": (json_answer({}, 302, Location="http://127.0.0.2:9/steal"), "redirects to another host"),
}


def requests_by_name(project: DbtProject) -> dict[str, tuple[object, ...]]:
    rows = project.query(
        "select normalized_name, status, attempts, last_error, lease_owner, resolved_company_id "
        "from enrichment.enrichment_requests"
    )
    return {row[0]: row[1:] for row in rows}


def run(monkeypatch: pytest.MonkeyPatch, registry: HostileRegistry, *args: str) -> int:
    monkeypatch.setenv("WDH_EQC_BASE_URL", registry.url)
    monkeypatch.setenv("WDH_EQC_TOKEN", TOKEN)
    return drain.main([*args, "--progress", "none", "--rate-limit", "1000/1", "--retry-delay", "0"])


@pytest.mark.parametrize("concurrency", ["1", "4"])
@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_answer_stays_with_its_request(
    state: DbtProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], case: str, concurrency: str
) -> None:
    answer, reason = MALFORMED[case]
    enqueue(state, [BAD, *GOOD])
    with HostileRegistry(TOKEN) as registry:
        registry.answers[BAD] = answer
        registry.companies.update(GOOD)
        code = run(monkeypatch, registry, "--budget", "20", "--concurrency", concurrency, "--max-attempts", "2")
        bad_searches = registry.searches(BAD)
    err = capsys.readouterr().err
    assert code == 0, err  # the good names succeeded
    rows = requests_by_name(state)
    status, attempts, last_error, owner, resolved = rows[BAD]
    assert (status, attempts, owner, resolved) == ("failed", 2, None, None)  # tried twice, then failed
    assert bad_searches == 2
    assert reason in last_error and "Traceback" not in err
    assert all(ch.isprintable() for ch in last_error)
    assert {name: rows[name][:1] + rows[name][4:] for name in GOOD} == {n: ("done", i) for n, i in GOOD.items()}
    cache = state.query("select lookup_key, company_id from enrichment.company_name_index")
    assert sorted(cache) == sorted(GOOD.items())  # nothing from the malformed answer
    assert state.query("select status from enrichment.run_log") == [("success",)]
    print(f"{case} @ concurrency {concurrency}: {status} after {attempts} attempts: {last_error}")


def test_a_lowered_maximum_or_a_reclaimed_last_attempt_fails_without_a_call(
    state: DbtProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueue(state, [BAD, *GOOD])
    # The bad name's last attempt (2 of 2) was in flight when its drain was killed: its lease expired.
    state.query(
        "update enrichment.enrichment_requests set status = 'in_progress', attempts = 2, lease_owner = 'dead', "
        "lease_expires_at = now() - interval '1 second', last_error = 'HTTP 502 from search' "
        "where normalized_name = %s",
        (BAD,),
    )
    with HostileRegistry(TOKEN) as registry:
        registry.companies.update(GOOD)
        assert run(monkeypatch, registry, "--budget", "20", "--max-attempts", "2") == 0
        assert registry.searches(BAD) == 0
    status, attempts, last_error, owner, _ = requests_by_name(state)[BAD]
    assert (status, attempts, owner) == ("failed", 2, None)
    assert last_error.startswith("failed after 2 of at most 2 attempts (its last attempt did not finish)")
    assert "HTTP 502" in last_error


def test_only_errors_exit_non_zero_and_close_the_run_as_error(
    state: DbtProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    enqueue(state, [BAD])
    with HostileRegistry(TOKEN) as registry:
        registry.answers[BAD] = json_answer({"data": {"list": []}})
        assert run(monkeypatch, registry, "--budget", "5", "--max-attempts", "3") == drain.EXIT_FAILED
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("error: no lookup succeeded (2 given back, 1 failed)")
    status, details = state.query("select status, details from enrichment.run_log")[0]
    assert status == "error" and details["error"].startswith("no lookup succeeded")
    assert requests_by_name(state)[BAD][:2] == ("failed", 3)


def test_a_worker_slow_to_find_nothing_does_not_end_the_run_early(
    state: DbtProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A loaded machine, made certain: the three idle workers take 0.3 s to report that nothing
    is due, holding their share of the budget meanwhile, while the busy worker gives the bad name
    back at once.  The budget of 3 still pays for its 3 attempts (the CI flake of stop 38: the
    busy worker found the budget all reserved, stopped, and the run ended after 2)."""
    real_acquire_with_claim = SharedRateLimit.acquire_with_claim

    def slow_to_find_nothing(self: SharedRateLimit, queue: Any, should_stop: Any) -> Any:
        claim = real_acquire_with_claim(self, queue, should_stop)
        if claim is None:
            time.sleep(0.3)
        return claim

    monkeypatch.setattr(SharedRateLimit, "acquire_with_claim", slow_to_find_nothing)
    enqueue(state, [BAD])
    with HostileRegistry(TOKEN) as registry:
        registry.answers[BAD] = json_answer({"data": {"list": []}})
        code = run(monkeypatch, registry, "--budget", "3", "--max-attempts", "3", "--concurrency", "4")
        assert registry.searches(BAD) == 3
    assert code == drain.EXIT_FAILED
    assert "(2 given back, 1 failed)" in capsys.readouterr().err
    assert requests_by_name(state)[BAD][:2] == ("failed", 3)


def test_an_error_outside_the_registry_is_given_back_too(state: DbtProject, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database error while recording a result (here: a trigger refusing the cache write) stays
    with that request; the worker goes on."""
    state.query(
        "create function enrichment.refuse_bad() returns trigger language plpgsql as $$ begin "
        "if new.lookup_key = '" + BAD + "' then raise exception 'refused by a test trigger'; end if; "
        "return new; end $$; create trigger refuse_bad before insert on enrichment.company_name_index "
        "for each row execute function enrichment.refuse_bad()"
    )
    try:
        enqueue(state, [BAD, *GOOD])
        with HostileRegistry(TOKEN) as registry:
            registry.companies.update({BAD: "700000099", **GOOD})
            assert run(monkeypatch, registry, "--budget", "20", "--concurrency", "1", "--max-attempts", "1") == 0
        rows = requests_by_name(state)
        assert rows[BAD][:3] == ("failed", 1, "RaiseException: refused by a test trigger")
        assert all(rows[name][0] == "done" for name in GOOD)
    finally:
        state.query("drop trigger refuse_bad on enrichment.company_name_index; drop function enrichment.refuse_bad()")


def test_a_redirect_to_another_host_never_carries_the_token(state: DbtProject, monkeypatch: pytest.MonkeyPatch) -> None:
    enqueue(state, [BAD, "同站跳转有限公司"])
    with HostileRegistry(TOKEN) as registry, HostileRegistry(TOKEN, host="127.0.0.2") as elsewhere:
        path = "/kg-api-hfd/api/search/?key=x"
        registry.answers[BAD] = json_answer({}, 302, Location=elsewhere.url + path)
        # A redirect within the same scheme, host and port is followed (a trailing-slash fix, say).
        registry.answers["同站跳转有限公司"] = json_answer({}, 301, Location="/kg-api-hfd/api/search/?key=%E7%94%B2")
        registry.companies["甲"] = "700000001"
        assert run(monkeypatch, registry, "--budget", "5", "--max-attempts", "1") == 0
        assert elsewhere.seen == []  # nothing, so certainly not the token
        assert [s.query.get("key") for s in registry.seen if "key" in s.query].count("甲") == 1
    rows = requests_by_name(state)
    assert rows[BAD][0] == "failed" and "redirects to another host: not followed" in rows[BAD][2]
    # The followed answer was read (no error): it names another company, which the evidence rules refuse.
    assert rows["同站跳转有限公司"][0] == "not_found"


def test_the_client_refuses_a_redirect_chain_and_follows_same_origin_only() -> None:
    with HostileRegistry(TOKEN) as registry, HostileRegistry(TOKEN, host="127.0.0.2") as elsewhere:
        port = registry.url.rsplit(":", 1)[1]
        registry.answers["https"] = json_answer({}, 307, Location=f"https://127.0.0.1:{port}/x")
        registry.answers["port"] = json_answer({}, 307, Location=f"http://127.0.0.1:{int(port) + 1}/x")
        registry.answers["loop"] = json_answer({}, 302, Location="/kg-api-hfd/api/search/?key=loop")
        registry.answers["away"] = json_answer({}, 308, Location=elsewhere.url + "/kg-api-hfd/api/search/?key=a")
        client = EQCClient(TOKEN, registry.url, timeout_s=2)
        for key in ("https", "port", "away"):
            with pytest.raises(RequestFailed, match="redirects to another host"):
                client.search(key)
        with pytest.raises(RequestFailed, match="more than 3 redirects"):
            client.search("loop")
        assert elsewhere.seen == []


def test_a_long_retry_after_gives_the_request_back_until_then(
    state: DbtProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueue(state, [BAD, *GOOD])
    with HostileRegistry(TOKEN) as registry:
        registry.answers[BAD] = json_answer({"error": "TooManyRequests"}, 429, **{"Retry-After": "86400"})
        registry.companies.update(GOOD)
        started = time.monotonic()
        assert run(monkeypatch, registry, "--budget", "20", "--concurrency", "1") == 0
        elapsed = time.monotonic() - started
        assert registry.searches(BAD) == 1  # not retried in the run, not slept on
    assert elapsed < 10
    waits = state.query(
        "select status, extract(epoch from next_attempt_at - now()), last_error "
        "from enrichment.enrichment_requests where normalized_name = %s",
        (BAD,),
    )
    status, wait_s, last_error = waits[0]
    assert status == "pending" and 86000 < float(wait_s) <= 86400 and "Retry-After 86400" in last_error


def test_a_trickled_body_is_abandoned_within_the_deadline(state: DbtProject, monkeypatch: pytest.MonkeyPatch) -> None:
    enqueue(state, [BAD, *GOOD])
    body = json.dumps({"list": [{"companyId": "700000099", "companyFullName": BAD}]}).encode()
    with HostileRegistry(TOKEN) as registry:
        registry.answers[BAD] = Answer(200, body, trickle_s=0.05)  # about 5 s in all, a byte every 50 ms
        registry.companies.update(GOOD)
        client = EQCClient(TOKEN, registry.url, timeout_s=1.0)
        started = time.monotonic()
        with pytest.raises(TransientError, match="took longer than 1 s"):
            client.search(BAD)
        assert time.monotonic() - started < 1.5
        started = time.monotonic()
        code = run(monkeypatch, registry, "--budget", "20", "--timeout", "1", "--retries", "0", "--max-attempts", "1")
        assert time.monotonic() - started < 5
    assert code == 0
    rows = requests_by_name(state)
    assert rows[BAD][:2] == ("failed", 1) and "took longer than 1 s" in rows[BAD][2]
    assert all(rows[name][0] == "done" for name in GOOD)
    assert state.query("select count(*) from enrichment.company_name_index where lookup_key = %s", (BAD,)) == [(0,)]


def test_the_token_check_counts_as_a_call(state: DbtProject, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    enqueue(state, list(GOOD)[:2])
    with HostileRegistry(TOKEN) as registry:
        registry.companies.update(GOOD)
        assert run(monkeypatch, registry, "--budget", "5", "--json") == 0
    assert json.loads(capsys.readouterr().out)["calls"] == 3  # the pre-flight check and two searches
    assert state.query("select count(*) from enrichment.eqc_calls") == [(3,)]


def test_former_names_as_a_list_become_keys_not_text(state: DbtProject, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "列表曾用名有限公司"
    enqueue(state, [name])
    with HostileRegistry(TOKEN) as registry:
        registry.answers[name] = json_answer(
            {"list": [{"companyId": "700000042", "companyFullName": name, "company_former_name": ["甲公司", "乙公司"]}]}
        )
        assert run(monkeypatch, registry, "--budget", "1", "--details") == 0
    keys = state.query("select key_type, lookup_key from enrichment.company_name_index order by 1, 2")
    assert keys == [("customer_name", name), ("former_name", "乙公司"), ("former_name", "甲公司")]


def test_database_unreachable_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("PGHOST", "127.0.0.1")
    monkeypatch.setenv("PGPORT", "1")
    with HostileRegistry(TOKEN) as registry:
        assert run(monkeypatch, registry, "--budget", "1") == drain.EXIT_SETUP
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot reach PostgreSQL")


def drain_once(monkeypatch: pytest.MonkeyPatch, registry: HostileRegistry, *args: str) -> tuple[int, float]:
    """One drain run with the given options (no --retry-delay 0 here); its exit code and wall time."""
    monkeypatch.setenv("WDH_EQC_BASE_URL", registry.url)
    monkeypatch.setenv("WDH_EQC_TOKEN", TOKEN)
    started = time.monotonic()
    code = drain.main(["--progress", "none", "--rate-limit", "1000/1", *args])
    return code, time.monotonic() - started


def seconds_until_next_attempt(project: DbtProject, name: str) -> tuple[str, float]:
    status, wait_s = project.query(
        "select status, extract(epoch from next_attempt_at - now()) from enrichment.enrichment_requests "
        "where normalized_name = %s",
        (name,),
    )[0]
    return status, float(wait_s)


def test_the_wait_after_each_transient_error_doubles(state: DbtProject, monkeypatch: pytest.MonkeyPatch) -> None:
    """--retry-delay 10: given back for 10 s, then 20 s, then 40 s; the fourth failure is final."""
    enqueue(state, [BAD])
    waits = []
    with HostileRegistry(TOKEN) as registry:
        registry.answers[BAD] = json_answer({"error": "busy"}, 502)
        for _ in range(3):
            code, _ = drain_once(
                monkeypatch, registry, "--budget", "1", "--retries", "0", "--retry-delay", "10", "--max-attempts", "4"
            )
            assert code == drain.EXIT_FAILED  # the run's only lookup did not succeed
            status, wait_s = seconds_until_next_attempt(state, BAD)
            assert status == "pending"
            waits.append(round(wait_s))
            state.query("update enrichment.enrichment_requests set next_attempt_at = now()")  # due again
        drain_once(
            monkeypatch, registry, "--budget", "1", "--retries", "0", "--retry-delay", "10", "--max-attempts", "4"
        )
    print(f"waits after transient errors: {waits} s")
    assert waits == [10, 20, 40]
    assert requests_by_name(state)[BAD][:2] == ("failed", 4)


def test_a_short_retry_after_is_waited_for_within_the_run(state: DbtProject, monkeypatch: pytest.MonkeyPatch) -> None:
    enqueue(state, [BAD])
    with HostileRegistry(TOKEN) as registry:
        registry.first_answers[BAD] = [json_answer({"error": "TooManyRequests"}, 429, **{"Retry-After": "2"})]
        registry.companies[BAD] = "700000099"
        code, elapsed = drain_once(monkeypatch, registry, "--budget", "1", "--retries", "1")
        assert registry.searches(BAD) == 2
    assert code == 0 and requests_by_name(state)[BAD][0] == "done"
    assert 2.0 <= elapsed < 10, elapsed  # waited what the registry asked, not the backoff's 1 s


def test_a_retry_after_just_above_the_cap_is_not_slept(state: DbtProject, monkeypatch: pytest.MonkeyPatch) -> None:
    enqueue(state, [BAD])
    cap = 120.0  # the documented cap, written out: a test that read the constant would follow a wrong one
    with HostileRegistry(TOKEN) as registry:
        registry.answers[BAD] = json_answer({"error": "TooManyRequests"}, 429, **{"Retry-After": f"{cap + 1:g}"})
        _, elapsed = drain_once(monkeypatch, registry, "--budget", "1", "--retries", "2", "--retry-delay", "0")
        assert registry.searches(BAD) == 1
    status, wait_s = seconds_until_next_attempt(state, BAD)
    assert elapsed < 10 and status == "pending" and cap < wait_s <= cap + 1
