"""The EQC client's rules against a hostile HTTP stand-in, without the database: redirects never
carry the token to another host (the same port on another host included), answers are classified
by status and body, the deadline and size limit hold, the token never shows.  ./run mutate runs
these."""

from __future__ import annotations

import gzip
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from python_enrich.eqc import client as c
from python_enrich.eqc.client import EQCClient
from tests.hostile_registry import Answer, HostileRegistry, json_answer, raw_answer

TOKEN = "client-test-token-0123456789abcdef"
SEARCH = "/kg-api-hfd/api/search/"


# -- same origin ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b?x=1", True),
        ("http://127.0.0.1:8080/a", "http://127.0.0.2:8080/a", False),  # same port, another host
        ("http://127.0.0.1:8080/a", "http://127.0.0.1:8081/a", False),
        ("http://127.0.0.1:8080/a", "https://127.0.0.1:8080/a", False),
        ("http://eqc.example/a", "http://eqc.example:80/b", True),  # the default port spelled out
        ("https://eqc.example/a", "https://eqc.example:443/b", True),
        ("https://eqc.example/a", "https://eqc.example:80/b", False),
        ("http://eqc.example/a", "http://EQC.example/b", True),  # host names are case-insensitive
        ("http://eqc.example/a", "http://eqc.example.evil/a", False),
        ("http://eqc.example/a", "http://eqc.example:99999/a", False),  # a bad port is no origin
        ("http://eqc.example:99999/a", "http://eqc.example/a", False),
    ],
)
def test_same_origin(first: str, second: str, same: bool) -> None:
    assert c.same_origin(first, second) is same


def test_a_redirect_to_the_same_port_on_another_host_is_not_followed() -> None:
    with HostileRegistry(TOKEN) as registry:
        port = registry.server.server_address[1]
        with HostileRegistry(TOKEN, host="127.0.0.2", port=port) as elsewhere:
            assert elsewhere.url == f"http://127.0.0.2:{port}"
            elsewhere.companies["甲"] = "700000001"  # it would answer, if asked
            registry.answers["away"] = json_answer({}, 302, Location=elsewhere.url + SEARCH + "?key=%E7%94%B2")
            client = EQCClient(TOKEN, registry.url, timeout_s=2)
            with pytest.raises(c.RequestFailed, match="HTTP 302 from search redirects to another host: not followed"):
                client.search("away")
            client.close()
            assert elsewhere.seen == []


def test_a_redirect_within_the_origin_is_followed_without_the_original_query() -> None:
    with HostileRegistry(TOKEN) as registry:
        registry.answers["moved"] = json_answer({}, 301, Location=SEARCH + "?key=%E7%94%B2")
        registry.companies["甲"] = "700000001"
        client = EQCClient(TOKEN, registry.url, timeout_s=2)
        candidates, _ = client.search("moved")
        assert [x.company_id for x in candidates] == ["700000001"]
        assert [s.query for s in registry.seen] == [{"key": "moved"}, {"key": "甲"}]
        assert all(s.headers.get("token") == TOKEN for s in registry.seen)


@pytest.mark.parametrize("hops", [3, 4])
def test_at_most_three_redirects(hops: int) -> None:
    with HostileRegistry(TOKEN) as registry:
        for i in range(hops):
            registry.answers[f"r{i}"] = json_answer({}, 302, Location=SEARCH + f"?key=r{i + 1}")
        registry.companies[f"r{hops}"] = "700000001"
        client = EQCClient(TOKEN, registry.url, timeout_s=2)
        if hops == 3:
            assert client.search("r0")[0][0].company_id == "700000001"
        else:
            with pytest.raises(c.RequestFailed, match=r"^more than 3 redirects from search$"):
                client.search("r0")
        assert len(registry.seen) == min(hops, 3) + 1


# -- answers by status and body --------------------------------------------------------------------
def one_answer(answer: Answer, call: str = "search") -> object:
    with HostileRegistry(TOKEN) as registry:
        registry.answers["q"] = answer
        client = EQCClient(TOKEN, registry.url, timeout_s=2)
        return client.search("q")


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (json_answer({"error": "TokenExpired"}, 401), c.TokenExpired, "^the EQC token was refused \\(401\\)$"),
        (json_answer({"error": "TokenExpired"}), c.TokenExpired, "^the EQC token has expired$"),
        (json_answer({}, 429, **{"Retry-After": "7"}), c.RateLimited, "^rate limited \\(Retry-After 7.0\\)$"),
        (json_answer({}, 429), c.RateLimited, "^rate limited \\(Retry-After None\\)$"),
        (json_answer({}, 500), c.TransientError, "^HTTP 500 from search$"),
        (json_answer({}, 503), c.TransientError, "^HTTP 503 from search$"),
        (json_answer({}, 400), c.RequestFailed, "^HTTP 400 from search$"),
        (json_answer({}, 499), c.RequestFailed, "^HTTP 499 from search$"),
        (json_answer({}, 204), c.RequestFailed, "^HTTP 204 from search$"),
        (raw_answer("<html>"), c.MalformedAnswer, "^the search answer is not JSON in UTF-8$"),
        (raw_answer(b"\xff"), c.MalformedAnswer, "^the search answer is not JSON in UTF-8$"),
        (raw_answer('{"a": NaN}'), c.MalformedAnswer, "not JSON"),
        (raw_answer("[" * 100_000 + "]" * 100_000), c.MalformedAnswer, "not JSON"),
        (raw_answer("null"), c.MalformedAnswer, "^the search answer is null$"),
        (
            json_answer({"error": "Busy\x1b[2J" + "x" * 200}),
            c.RequestFailed,
            r"^error 'Busy\\x1b\[2Jx{72}' from search$",  # cut at 80 characters, escapes shown
        ),
        (json_answer({"list": "x"}), c.MalformedAnswer, "list"),
    ],
)
def test_answers_are_classified(answer: Answer, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as raised:
        one_answer(answer)
    assert TOKEN not in str(raised.value)
    if error is c.RateLimited:
        retry_after = raised.value.retry_after_s  # type: ignore[attr-defined]
        assert retry_after == (7.0 if "7" in message else None)


def test_not_found_and_an_error_field_that_is_empty() -> None:
    assert one_answer(json_answer({}, 404)) == ([], None)
    assert one_answer(json_answer({"error": "", "list": [], "total": 0})) == ([], {"error": "", "list": [], "total": 0})


def test_a_403_is_sent_again_once_with_only_the_token() -> None:
    with HostileRegistry(TOKEN) as registry:
        registry.first_answers["q"] = [json_answer({}, 403), json_answer({}, 403)]
        client = EQCClient(TOKEN, registry.url, timeout_s=2)
        with pytest.raises(c.RequestFailed, match=r"^HTTP 403 from search$"):
            client.search("q")
        first, second = registry.seen
        assert first.headers["token"] == second.headers["token"] == TOKEN
        assert first.headers["Referer"] == registry.url + "/" and first.headers["Accept"] == "application/json"
        assert first.headers["User-Agent"].startswith("Mozilla/5.0")
        assert "Referer" not in second.headers and second.headers.get("Accept") != "application/json"
        registry.first_answers["q"] = [json_answer({}, 403)]
        registry.companies["q"] = "700000001"
        assert client.search("q")[0][0].company_id == "700000001"


def test_the_throttle_runs_before_every_request_and_can_stop_it() -> None:
    calls: list[int] = []
    with HostileRegistry(TOKEN) as registry:
        registry.first_answers["q"] = [json_answer({}, 403)]
        client = EQCClient(TOKEN, registry.url, timeout_s=2, throttle=lambda: calls.append(1) is None)
        client.search("q")
        assert len(calls) == 2 and len(registry.seen) == 2
        stopped = EQCClient(TOKEN, registry.url, timeout_s=2, throttle=lambda: False)
        with pytest.raises(c.Stopped, match=r"^stopping$"):
            stopped.search("q")
        assert len(registry.seen) == 2


def test_endpoints_and_their_parameters() -> None:
    with HostileRegistry(TOKEN) as registry:
        client = EQCClient(TOKEN, registry.url, timeout_s=2)
        assert client.business_info("42") == {}
        assert client.labels("42") == {"labels": []}
        client.check_token()
        seen = [(s.path.rsplit("/", 1)[1], s.query) for s in registry.seen]
        assert seen == [
            ("findDepart", {"targetId": "42"}),
            ("findLabels", {"targetId": "42"}),
            ("searchAll", {"keyword": "test", "currentPage": "1", "pageSize": "1"}),
        ]
        bad = EQCClient("wrong-token-0123456789", registry.url, timeout_s=2)
        with pytest.raises(c.TokenExpired):
            bad.check_token()


def test_malformed_business_info_and_labels_are_malformed_answers() -> None:
    with HostileRegistry(TOKEN) as registry:
        client = EQCClient(TOKEN, registry.url, timeout_s=2)
        registry.answer = lambda path, query, token: json_answer([1, 2])  # type: ignore[method-assign]
        with pytest.raises(c.MalformedAnswer, match=r"^the business info answer is a list, not an object$"):
            client.business_info("42")
        with pytest.raises(c.MalformedAnswer, match=r"^the labels answer is a list, not an object with a list$"):
            client.labels("42")


def test_dropped_search_items_are_logged_by_reason_never_by_name(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="python_enrich.eqc.client")
    answer = json_answer({"list": [{"companyId": "7", "companyFullName": "甲公司"}, {"companyId": "x"}]})
    candidates, payload = one_answer(answer)  # type: ignore[misc]
    assert [x.company_id for x in candidates] == ["7"] and len(payload["list"]) == 2
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["dropped 1 unusable search items: 1 × companyId is not 1-20 ASCII digits"]
    caplog.clear()
    one_answer(json_answer({"list": [{"companyId": "7", "companyFullName": "甲公司"}]}))
    assert caplog.records == []


# -- deadline, size, transport errors ---------------------------------------------------------------
def test_a_trickled_body_is_abandoned_at_the_deadline() -> None:
    with HostileRegistry(TOKEN) as registry:
        registry.answers["q"] = Answer(200, b'{"list": []}' + b" " * 200, trickle_s=0.02)
        client = EQCClient(TOKEN, registry.url, timeout_s=0.25)
        started = time.monotonic()
        with pytest.raises(c.TransientError, match=r"^the search answer took longer than 0.25 s$"):
            client.search("q")
        assert time.monotonic() - started < 1.0


def padded(size: int) -> bytes:
    """A JSON search answer of exactly `size` bytes."""
    body = json.dumps({"list": [], "pad": ""}).encode()
    return body[:-2] + b"x" * (size - len(body)) + body[-2:]


def test_a_body_over_the_size_limit_is_malformed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert c.MAX_BODY_BYTES == 8 * 1024 * 1024
    with pytest.raises(c.MalformedAnswer, match=r"^the search answer is larger than 8 MB$"):
        one_answer(Answer(200, padded(c.MAX_BODY_BYTES + 1)))
    monkeypatch.setattr(c, "MAX_BODY_BYTES", 1000)
    assert one_answer(Answer(200, padded(1000)))[0] == []  # type: ignore[index]  # the limit itself is allowed
    with pytest.raises(c.MalformedAnswer, match=r"^the search answer is larger than 0 MB$"):
        one_answer(Answer(200, padded(1001)))


def test_a_body_in_many_pieces_is_read_whole() -> None:
    answer = json_answer({"list": [{"companyId": "7", "companyFullName": "甲公司"}]})
    answer.trickle_s = 0.001
    assert [x.company_id for x in one_answer(answer)[0]] == ["7"]  # type: ignore[index]


def test_a_gzip_body_is_decoded() -> None:
    body = gzip.compress(json.dumps({"list": [{"companyId": "7", "companyFullName": "甲公司"}]}).encode())
    assert [x.company_id for x in one_answer(Answer(200, body, {"Content-Encoding": "gzip"}))[0]] == ["7"]  # type: ignore[index]


def test_a_body_cut_short_is_transient() -> None:
    with pytest.raises(c.TransientError, match=r"^ProtocolError reading the search answer$"):
        one_answer(Answer(200, b'{"list": []}' * 10, cut_after=5))


def test_a_registry_that_never_answers_times_out() -> None:
    started = time.monotonic()
    with HostileRegistry(TOKEN) as registry:
        registry.answers["q"] = Answer(200, b'{"list": []}', silent_s=2)
        client = EQCClient(TOKEN, registry.url, timeout_s=0.25)
        with pytest.raises(c.TransientError, match=r"^ReadTimeout calling search$"):
            client.search("q")
        assert time.monotonic() - started < 1.5


def test_an_unreachable_registry_is_transient() -> None:
    with HostileRegistry(TOKEN) as registry:
        url = registry.url
    client = EQCClient(TOKEN, url, timeout_s=1)
    with pytest.raises(c.TransientError, match=r"^ConnectionError calling search$"):
        client.search("q")
    with pytest.raises(c.RequestFailed, match=r"^InvalidURL calling findDepart$"):
        EQCClient(TOKEN, "http://[::1", timeout_s=1).business_info("1")


# -- settings and what may be shown -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://eqc.example", "it must start with http:// or https://"),
        ("eqc.example", "it must start with http:// or https://"),
        ("http://", "it names no host"),
        ("http://user:pw@eqc.example", "it must not carry a user name or password"),
        ("http://user@eqc.example", "it must not carry a user name or password"),
        ("http://eqc.example/?a=1", "it must not carry a query, a fragment, spaces or control characters"),
        ("http://eqc.example/#x", "it must not carry a query, a fragment, spaces or control characters"),
        ("http://eqc.example/a b", "it must not carry a query, a fragment, spaces or control characters"),
        ("http://eqc.example/\x1b", "it must not carry a query, a fragment, spaces or control characters"),
        ("http://eqc.example:99999", "Port out of range 0-65535"),
    ],
)
def test_bad_base_urls_are_refused_by_name(url: str, problem: str) -> None:
    with pytest.raises(c.BadBaseURL) as raised:
        c.check_base_url(url)
    text = str(raised.value)
    assert text.startswith("WDH_EQC_BASE_URL ") and text.endswith(f" is not a usable registry URL: {problem}")
    if "@" in url:
        assert text.startswith("WDH_EQC_BASE_URL (value not shown: it may hold credentials) is not")
        assert "user:pw" not in text and "user@" not in text
    else:
        assert f"WDH_EQC_BASE_URL {c.for_terminal(url)[:100]!r} is not" in text
        assert "\x1b" not in text


def test_a_long_bad_base_url_is_shown_cut() -> None:
    with pytest.raises(c.BadBaseURL) as raised:
        c.check_base_url("ftp://" + "a" * 300)
    assert f"{('ftp://' + 'a' * 300)[:100]!r}" in str(raised.value) and "a" * 101 not in str(raised.value)


def test_good_base_urls_lose_the_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    assert c.check_base_url("https://eqc.example/") == "https://eqc.example"
    assert c.check_base_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert c.check_base_url("http://127.0.0.1:8080/apiX//") == "http://127.0.0.1:8080/apiX"
    monkeypatch.delenv("WDH_EQC_BASE_URL", raising=False)
    assert c.base_url_from_env() == "https://eqc.pingan.com"
    monkeypatch.setenv("WDH_EQC_BASE_URL", "")
    assert c.base_url_from_env() == "https://eqc.pingan.com"
    monkeypatch.setenv("WDH_EQC_BASE_URL", "http://127.0.0.1:9/X/")
    assert c.base_url_from_env() == "http://127.0.0.1:9/X"
    assert EQCClient(TOKEN).base_url == "http://127.0.0.1:9/X"
    assert EQCClient(TOKEN, "http://other:1/X/").base_url == "http://other:1/X"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None), ("", None), ("7", 7.0), (" 7 ", 7.0), ("1.5", 1.5), ("120", 120.0), ("121", 121.0),
        ("1.2.3", None), ("-5", None), ("٣", None), ("soon", None), ("Wed, 99 Foo 2015 07:28:00 GMT", None),
    ],
)  # fmt: skip
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    assert c.retry_after_seconds(value) == seconds


def test_retry_after_as_an_http_date() -> None:
    later = c.retry_after_seconds(format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True))
    assert later is not None and 85 <= later <= 90
    assert c.retry_after_seconds(format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)) == 0.0


def test_the_token_never_shows() -> None:
    client = EQCClient(TOKEN, "http://127.0.0.1:9")
    assert repr(client) == "EQCClient('http://127.0.0.1:9', token=…cdef (34 chars))"
    assert c.mask_token("123456789") == "…6789 (9 chars)"
    assert c.mask_token("12345678") == "(hidden)"
    assert c.mask_token("") == "(hidden)"
    assert client.timeout_s == 5.0 and client.throttle is None
