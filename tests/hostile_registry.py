"""A hostile stand-in for the EQC registry (a test fixture, not the sandbox): it serves, per
searched name, whatever raw answer a test configures — malformed JSON, wrong shapes, poison ids,
redirects, huge Retry-After values, bodies trickled one byte at a time — and good exact matches
for the names it knows.  Every request is recorded with its headers, so that a test can see where
the token went."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SEARCH_PATH = "/kg-api-hfd/api/search/"


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    trickle_s: float = 0.0  # pause before each byte of the body
    silent_s: float = 0.0  # pause before the status line (a registry that accepts and says nothing)
    cut_after: int | None = None  # send only this many bytes of the body, then hang up


def json_answer(payload: Any, status: int = 200, **headers: str) -> Answer:
    return Answer(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), dict(headers))


def raw_answer(body: str | bytes, status: int = 200) -> Answer:
    return Answer(status, body.encode("utf-8") if isinstance(body, str) else body)


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


class HostileRegistry:
    def __init__(self, token: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self.answers: dict[str, Answer] = {}  # search key -> what to send
        self.first_answers: dict[str, list[Answer]] = {}  # search key -> sent once each, before the above
        self.companies: dict[str, str] = {}  # search key -> id of an exact match
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                with registry._lock:
                    registry.seen.append(Seen(parts.path, query, dict(self.headers.items())))
                self.reply(registry.answer(parts.path, query, self.headers.get("token")))

            def reply(self, answer: Answer) -> None:
                try:
                    time.sleep(answer.silent_s)
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(answer.body)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if not answer.trickle_s:
                        self.wfile.write(answer.body[: answer.cut_after])
                        return
                    for index in range(len(answer.body)):
                        time.sleep(answer.trickle_s)
                        self.wfile.write(answer.body[index : index + 1])
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up: that is what some tests want

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, path: str, query: dict[str, str], token: str | None) -> Answer:
        if token != self.token:
            return json_answer({"error": "TokenExpired"}, 401)
        if path.endswith("/searchAll"):
            return json_answer({"list": [], "total": 0})
        if path.endswith("/findDepart"):
            return json_answer({"businessInfodto": {}})
        if path.endswith("/findLabels"):
            return json_answer({"labels": []})
        if path != SEARCH_PATH:
            return json_answer({"error": "NoSuchPath"}, 404)
        key = query.get("key", "")
        with self._lock:
            if self.first_answers.get(key):
                return self.first_answers[key].pop(0)
        if key in self.answers:
            return self.answers[key]
        if key in self.companies:
            item = {"companyId": self.companies[key], "companyFullName": key, "type": "全称精确匹配", "rank_score": 1}
            return json_answer({"list": [item], "total": 1})
        return json_answer({"list": [], "total": 0})

    def searches(self, key: str) -> int:
        return sum(1 for seen in self.seen if seen.path == SEARCH_PATH and seen.query.get("key") == key)

    def __enter__(self) -> HostileRegistry:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
