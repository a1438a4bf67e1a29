"""The review page: a local web server on 127.0.0.1 (self-contained HTML and JS, no network).

GET / serves the page, GET /api/names the names waiting for review (by impact) and the decisions
in force; POST /api/decide makes a decision.  Every request must name this server as its Host
(no DNS rebinding); every POST must carry the per-run token written into the page, a JSON body,
and, when the browser sends one, this server's Origin: other local pages cannot decide anything.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from python_enrich import db
from python_enrich.review import state

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
ACTIONS: dict[str, Callable[..., str]] = {
    "accept": lambda conn, body, who: state.accept(conn, _text(body, "name"), _text(body, "company_id"), who),
    "reject": lambda conn, body, who: state.reject(conn, _text(body, "name"), _ids(body), who),
    "no_company": lambda conn, body, who: state.no_company(conn, _text(body, "name"), who),
    "undo": lambda conn, body, who: state.undo(conn, _text(body, "name"), who),
}


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise state.ReviewError(f"the request needs a {key}")
    return value


def _ids(body: dict[str, Any]) -> list[str] | None:
    ids = body.get("company_ids")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) and i.isdigit() and len(i) < 20 for i in ids):
        raise state.ReviewError("company_ids must be a list of ids")
    return ids


def snapshot(limit: int = 500) -> dict[str, Any]:
    conn = db.connect()
    try:
        with conn, conn.cursor() as cur:
            names = state.waiting(cur, limit)
            decided = state.decisions(cur)
    finally:
        conn.close()
    return {
        "names": [
            {
                "name": w.normalized_name, "raw_name": w.raw_name_example, "temp_id": w.temp_id, "rows": w.row_count,
                "assets": w.asset_volume, "reason": w.reason, "candidates": w.candidates, "rejected": w.rejected,
                "spellings": w.spellings,
            }
            for w in names
        ],
        "decisions": [
            {"name": n, "decision": d, "company_id": c, "official_name": o, "by": by, "at": at.isoformat()}
            for n, d, c, o, by, at, *_ in decided
        ],
    }  # fmt: skip


class ReviewServer:
    """`with ReviewServer() as server: server.url` (a port of 0 picks a free one)."""

    def __init__(self, port: int = 0, who: str | None = None) -> None:
        self.token = secrets.token_urlsafe(32)
        self.who = who or state.current_user()
        handler = type("BoundReviewHandler", (ReviewHandler,), {"server_state": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def allowed_hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    def start(self) -> ReviewServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ReviewServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ReviewHandler(BaseHTTPRequestHandler):
    server_version = "EnrichmentReview/1.0"
    server_state: ReviewServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("review page: " + format, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
            "frame-ancestors 'none'",
        )
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the browser went away: nothing to answer
            self.close_connection = True

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False, default=str).encode(), "application/json")

    def _host_ok(self) -> bool:
        if self.headers.get("Host") in self.server_state.allowed_hosts():
            return True
        self._json(403, {"error": "wrong Host: open the page at " + self.server_state.url})
        return False

    def do_GET(self) -> None:
        if not self._host_ok():
            return
        path = urlsplit(self.path).path
        if path == "/":
            page = PAGE.replace("__TOKEN__", json.dumps(self.server_state.token)).replace(
                "__WHO__", json.dumps(self.server_state.who)
            )
            self._send(200, page.encode(), "text/html; charset=utf-8")
        elif path == "/api/names":
            try:
                data = snapshot()
            except Exception as error:  # one bad read answers this request, the server goes on
                log.warning("review page: cannot read the state: %s", type(error).__name__)
                self._json(500, {"error": f"cannot read the enrichment state ({type(error).__name__})"})
                return
            self._json(200, data)
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        if not self._host_ok():
            return
        origin = self.headers.get("Origin")
        if origin is not None and origin.rstrip("/") not in {f"http://{h}" for h in self.server_state.allowed_hosts()}:
            self._json(403, {"error": "a request from another site"})
            return
        token = self.headers.get("X-Review-Token") or ""
        if not hmac.compare_digest(token.encode(), self.server_state.token.encode()):
            self._json(403, {"error": "missing or wrong review token: reload the page"})
            return
        if urlsplit(self.path).path != "/api/decide":
            self._json(404, {"error": "not found"})
            return
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            self._json(415, {"error": "send JSON"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            self._json(400, {"error": "a JSON body of at most 64 KiB is needed"})
            return
        try:
            body = json.loads(self.rfile.read(length).decode("utf-8"))
            action = ACTIONS.get(body.get("action")) if isinstance(body, dict) else None
            if action is None:
                raise state.ReviewError(f"action must be one of {', '.join(ACTIONS)}")
            conn = db.connect()
            try:
                message = action(conn, body, self.server_state.who)
            finally:
                conn.close()
        except (state.ReviewError, ValueError) as error:
            self._json(400, {"error": str(error).splitlines()[0]})
            return
        except Exception as error:
            log.warning("review page: a decision failed: %s", type(error).__name__)
            self._json(500, {"error": f"the decision was not stored ({type(error).__name__})"})
            return
        self._json(200, {"message": message})


PAGE = (Path(__file__).parent / "page.html").read_text(encoding="utf-8")
