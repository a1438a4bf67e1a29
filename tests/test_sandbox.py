"""Contract tests of the EQC sandbox: every endpoint, status and knob, over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import requests

from python_enrich.standins.companies import build_companies
from python_enrich.standins.registry import EXACT, FORMER, FUZZY, PINYIN, pinyin_initials
from python_enrich.standins.sandbox import API, SandboxConfig, SandboxServer

COMPANIES = build_companies(300, seed=42)
CONFIG = {"companies": 300, "seed": 42}


def company(presence: str):
    return next(c for c in COMPANIES if c.registry_presence == presence)


@pytest.fixture
def sandbox():
    with SandboxServer(SandboxConfig(**CONFIG, tokens=("good",))) as server:
        yield server


def get(server: SandboxServer, path: str, token: str | None = "good", timeout: float = 5, **params: str):
    headers = {"token": token} if token else {}
    return requests.get(server.url + API + path, params=params, headers=headers, timeout=timeout)


def test_search_match_types(sandbox: SandboxServer) -> None:
    exact = company("exact")
    body = get(sandbox, "", key=exact.name).json()
    assert body["list"][0]["type"] == EXACT and str(body["list"][0]["companyId"]) == exact.company_id
    assert {"companyId", "companyFullName", "unite_code", "type", "_score", "rank_score"} <= set(body["list"][0])
    renamed = company("former")
    item = get(sandbox, "", key=renamed.name).json()["list"][0]
    assert item["type"] == FORMER and str(item["companyId"]) == renamed.company_id
    assert renamed.name in item["company_former_name"].split(",") and item["companyFullName"] != renamed.name
    variant = company("variant")  # listed under a legal-form variant of the sample's name
    items = get(sandbox, "", key=variant.name).json()["list"]
    assert FUZZY in {i["type"] for i in items} and variant.company_id in {str(i["companyId"]) for i in items}
    assert EXACT not in {i["type"] for i in items}
    pinyin = get(sandbox, "", key=pinyin_initials(exact.name).lower()).json()["list"]
    assert pinyin and pinyin[0]["type"] == PINYIN
    assert get(sandbox, "", key="完全不存在的名字ZZZ").json() == {"list": [], "total": 0}


def test_search_quirks_of_the_real_service() -> None:
    with SandboxServer(SandboxConfig(companies=2000, seed=42, tokens=("good",))) as server:
        searches = [get(server, "", key=c.name).json()["list"] for c in build_companies(2000, 42)[:400]]
    ids = [i["companyId"] for items in searches for i in items]
    assert any(isinstance(i, int) for i in ids) and any(isinstance(i, str) for i in ids)  # ids sometimes numbers
    assert any(len(items) > 1 for items in searches)  # several candidates for ambiguous names
    fuzzy_lists = [items for items in searches if len(items) > 1 and items[0]["type"] == items[1]["type"] == FUZZY]
    assert any(items[0]["rank_score"] < items[1]["rank_score"] for items in fuzzy_lists)  # best not always first


def test_find_depart_labels_and_token_check(sandbox: SandboxServer) -> None:
    known = company("exact")
    info = get(sandbox, "findDepart", targetId=known.company_id).json()["businessInfodto"]
    assert info["companyFullName"] == known.name and info["registerCaptial"].endswith("万元")
    assert {"registered_status", "legal_person_name", "credit_code", "company_former_name"} <= set(info)
    assert get(sandbox, "findDepart", targetId="1").json() == {"businessInfodto": {}}
    labels = get(sandbox, "findLabels", targetId=known.company_id).json()["labels"]
    assert {group["type"] for group in labels} == {"行业分类", "企业规模"}
    entries = [entry for group in labels for entry in group["labels"]]
    assert any(e["companyId"] is None for e in entries) and any(e["lv1Name"] == "地区分类" for e in entries)
    assert get(sandbox, "findLabels", targetId="1").json() == {"labels": []}
    check = get(sandbox, "searchAll", keyword="test", currentPage="1", pageSize="1")
    assert check.status_code == 200 and "list" in check.json()


def test_bad_requests(sandbox: SandboxServer) -> None:
    assert get(sandbox, "").status_code == 400
    assert requests.get(sandbox.url + "/nowhere", timeout=5).status_code == 404
    assert get(sandbox, "", token=None, key="x").status_code == 401
    assert get(sandbox, "", token="forged", key="x").status_code == 401


@pytest.mark.parametrize(
    ("style", "status", "body"), [("401", 401, {"error": "Unauthorized"}), ("body", 200, {"error": "TokenExpired"})]
)
def test_idle_tokens_expire(style: str, status: int, body: dict[str, str]) -> None:
    with SandboxServer(SandboxConfig(**CONFIG, token_idle_s=0.3, expiry_style=style)) as server:
        token = server.issue_token()
        for _ in range(3):  # use keeps it alive
            assert get(server, "searchAll", token=token, keyword="test").status_code == 200
            time.sleep(0.15)
        time.sleep(0.5)
        expired = get(server, "searchAll", token=token, keyword="test")
        assert (expired.status_code, expired.json()) == (status, body)


def test_rate_limit_answers_429_with_retry_after() -> None:
    with SandboxServer(SandboxConfig(**CONFIG, tokens=("good",), rate_limit=(3, 1.0))) as server:
        statuses = [get(server, "searchAll", keyword="test").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = get(server, "searchAll", keyword="test")
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 1
        time.sleep(1.05)
        assert get(server, "searchAll", keyword="test").status_code == 200


def test_latency_per_endpoint() -> None:
    latency = {"search": (250, 300), "*": (0, 0)}
    with SandboxServer(SandboxConfig(**CONFIG, tokens=("good",), latency_ms=latency)) as server:
        started = time.perf_counter()
        get(server, "", key="x")
        assert time.perf_counter() - started >= 0.25
        started = time.perf_counter()
        get(server, "findDepart", targetId="1")
        assert time.perf_counter() - started < 0.2


def test_faults_5xx_drop_and_slow() -> None:
    with SandboxServer(SandboxConfig(**CONFIG, tokens=("good",), fault_rate=1.0, fault_kinds=("5xx",))) as server:
        assert {get(server, "", key="x").status_code for _ in range(10)} <= {500, 502, 503}
    with SandboxServer(SandboxConfig(**CONFIG, tokens=("good",), fault_rate=1.0, fault_kinds=("drop",))) as server:
        with pytest.raises(requests.ConnectionError):
            get(server, "", key="x")
    with SandboxServer(
        SandboxConfig(**CONFIG, tokens=("good",), fault_rate=1.0, fault_kinds=("slow",), slow_ms=1500)
    ) as server:
        with pytest.raises(requests.Timeout):
            get(server, "", key="x", timeout=0.5)


def test_faults_are_seeded_and_at_the_given_rate() -> None:
    def statuses(seed: int) -> list[int]:
        config = SandboxConfig(**CONFIG, tokens=("good",), fault_rate=0.3, fault_kinds=("5xx",), fault_seed=seed)
        with SandboxServer(config) as server:
            return [get(server, "searchAll", keyword="t").status_code for _ in range(200)]

    first = statuses(7)
    assert first == statuses(7) and first != statuses(8)
    assert 30 <= sum(1 for s in first if s >= 500) <= 90


def test_403_quirk_only_hits_browser_like_requests() -> None:
    with SandboxServer(SandboxConfig(**CONFIG, tokens=("good",), quirk_403_rate=1.0)) as server:
        browser_like = requests.get(
            server.url + API, params={"key": "x"}, headers={"token": "good", "Referer": server.url + "/"}, timeout=5
        )
        assert browser_like.status_code == 403
        assert get(server, "", key="x").status_code == 200


def test_request_log_counts_every_call_and_resets(sandbox: SandboxServer) -> None:
    get(sandbox, "", key="x")
    get(sandbox, "", key="y")
    get(sandbox, "findDepart", targetId="1")
    get(sandbox, "", token="forged", key="x")
    stats = requests.get(sandbox.url + "/_sandbox/stats", timeout=5).json()
    assert stats["counts"] == {"search": {"200": 2, "401": 1}, "findDepart": {"200": 1}}
    assert stats["total"] == 4
    requests.post(sandbox.url + "/_sandbox/reset", timeout=5)
    assert requests.get(sandbox.url + "/_sandbox/stats", timeout=5).json()["total"] == 0


def test_login_form_issues_a_working_token(sandbox: SandboxServer) -> None:
    page = requests.get(sandbox.url + "/", timeout=5).text
    assert 'name="username"' in page and 'name="password"' in page
    refused = requests.post(sandbox.url + "/login", data={"username": "demo", "password": "wrong"}, timeout=5)
    assert "用户名或密码错误" in refused.text
    page = requests.post(sandbox.url + "/login", data={"username": "demo", "password": "demo"}, timeout=5).text
    token = page.split('const token = "', 1)[1].split('"', 1)[0]
    assert '"token": token' in page and API in page  # the page searches with the token header
    assert get(sandbox, "searchAll", token=token, keyword="test").status_code == 200


def test_runs_as_a_subprocess() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "python_enrich.sandbox", "--port", "0", "--companies", "200", "--token", "t"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        answer = requests.get(url + API + "searchAll", params={"keyword": "test"}, headers={"token": "t"}, timeout=5)
        assert answer.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_rejects_bad_knobs() -> None:
    for args in (
        ["--rate-limit", "ten/60"],
        ["--latency-ms", "nowhere=1..2"],
        ["--fault-rate", "2"],
        ["--faults", "meteor"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "python_enrich.sandbox", *args], capture_output=True, text=True, timeout=30
        )
        assert done.returncode != 0 and "error" in done.stderr


def test_fifty_concurrent_clients_for_ten_seconds() -> None:
    limit, window = 200, 1.0
    config = SandboxConfig(**CONFIG, tokens=("good",), rate_limit=(limit, window), latency_ms={"*": (0, 20)})
    exact = company("exact")
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    with SandboxServer(config) as server:
        deadline = time.monotonic() + 10

        def client() -> None:
            with requests.Session() as session:
                while time.monotonic() < deadline:
                    try:
                        answer = session.get(
                            server.url + API, params={"key": exact.name}, headers={"token": "good"}, timeout=10
                        )
                        kind = str(answer.status_code)
                        if answer.status_code == 200 and str(answer.json()["list"][0]["companyId"]) != exact.company_id:
                            kind = "wrong answer"
                    except requests.RequestException as error:
                        kind = type(error).__name__
                    with lock:
                        outcomes[kind] += 1

        threads = [threading.Thread(target=client) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        busiest_window = server.max_admitted_in_any_window()
    assert set(outcomes) <= {"200", "429"}, outcomes
    assert outcomes["200"] > 1000 and outcomes["429"] > 0
    assert busiest_window <= limit


def test_registry_file_round_trip(tmp_path) -> None:
    path = tmp_path / "registry.json"
    done = subprocess.run(
        [sys.executable, "-m", "python_enrich.sandbox", "--write-registry", str(path), "--companies", "50"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and path.exists()
    first = json.loads(path.read_text(encoding="utf-8"))[0]
    first["full_name"] = "手工登记测试有限公司"
    path.write_text(json.dumps([first], ensure_ascii=False), encoding="utf-8")
    with SandboxServer(SandboxConfig(registry_file=path, tokens=("good",))) as server:
        item = get(server, "", key="手工登记测试有限公司").json()["list"][0]
    assert (item["type"], str(item["companyId"])) == (EXACT, first["company_id"])
