"""A stand-in for the EQC registry that behaves like the real one (contract: docs/registry-api.md).

    python -m python_enrich.sandbox [--host 127.0.0.1] [--port N] [knobs...]

Serves the four GET endpoints with the `token` header, a login page that issues tokens (and then
makes a search request carrying the token, as the real site does), idle token expiry, latency per
endpoint, a sliding-window rate limit (429 + Retry-After), seeded fault injection (5xx, slow
responses, dropped connections), the 403 quirk, and a request log at /_sandbox/stats.
Usable as a subprocess (prints its URL on the first line) or in-process (SandboxServer).
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from python_enrich.cli_types import fraction, millisecond_range, rate_limit
from python_enrich.standins.registry import Registry, build_registry, dump_registry, load_registry
from python_enrich.standins.sample import DEFAULT_ROWS, sample_size

API = "/kg-api-hfd/api/search/"
ENDPOINTS = {
    API: ("search", "key"),
    API + "findDepart": ("findDepart", "targetId"),
    API + "findLabels": ("findLabels", "targetId"),
    API + "searchAll": ("searchAll", "keyword"),
}
ENDPOINT_NAMES = tuple(name for name, _ in ENDPOINTS.values())
FAULT_KINDS = ("5xx", "slow", "drop")


@dataclass
class SandboxConfig:
    companies: int = sample_size(DEFAULT_ROWS).companies
    seed: int = 42
    registry_file: Path | None = None
    latency_ms: dict[str, tuple[int, int]] = field(default_factory=dict)  # endpoint -> (min, max)
    rate_limit: tuple[int, float] | None = None  # (requests, window seconds)
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    fault_seed: int = 1
    slow_ms: int = 10_000
    quirk_403_rate: float = 0.0
    token_idle_s: float = 1800.0
    expiry_style: str = "401"  # or "body": HTTP 200 {"error": "TokenExpired"}
    tokens: tuple[str, ...] = ()  # accepted from the start, without logging in
    username: str = "demo"
    password: str = "demo"  # noqa: S105 - the sandbox's well-known demo login


class SlidingWindowLimiter:
    """At most `limit` admitted requests in any `window` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.admitted: collections.deque[float] = collections.deque()
        self.history: collections.deque[float] = collections.deque(maxlen=100_000)  # for audits
        self.lock = threading.Lock()

    def try_admit(self) -> float:
        """0 when admitted, else the seconds until a slot frees up."""
        with self.lock:
            now = time.monotonic()
            while self.admitted and now - self.admitted[0] >= self.window:
                self.admitted.popleft()
            if len(self.admitted) < self.limit:
                self.admitted.append(now)
                self.history.append(now)
                return 0.0
            return self.window - (now - self.admitted[0])


class RequestLog:
    """Counts per endpoint and status, plus each admitted API call's time (for limit checks)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
            self.events: list[tuple[float, str, str]] = []

    def record(self, endpoint: str, status: str) -> None:
        with self.lock:
            self.counts[endpoint][status] += 1
            self.events.append((time.time(), endpoint, status))

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "counts": {endpoint: dict(statuses) for endpoint, statuses in self.counts.items()},
                "total": sum(sum(s.values()) for s in self.counts.values()),
                "events": list(self.events),
            }


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        companies = (
            load_registry(config.registry_file)
            if config.registry_file
            else build_registry(config.companies, config.seed)
        )
        self.registry = Registry(companies)
        self.limiter = SlidingWindowLimiter(*config.rate_limit) if config.rate_limit else None
        self.log = RequestLog()
        self.random = random.Random(config.fault_seed)
        self.random_lock = threading.Lock()
        self.tokens: dict[str, float] = {token: time.monotonic() for token in config.tokens}
        self.tokens_lock = threading.Lock()

    def chance(self, rate: float) -> bool:
        with self.random_lock:
            return rate > 0 and self.random.random() < rate

    def pick(self, options: tuple[str, ...]) -> str:
        with self.random_lock:
            return self.random.choice(options)

    def latency(self, endpoint: str) -> float:
        low, high = self.config.latency_ms.get(endpoint, self.config.latency_ms.get("*", (0, 0)))
        with self.random_lock:
            return self.random.uniform(low, high) / 1000

    def issue_token(self) -> str:
        token = secrets.token_hex(16)
        with self.tokens_lock:
            self.tokens[token] = time.monotonic()
        return token

    def token_state(self, token: str | None) -> str:
        """valid / expired / unknown; a valid token's idle clock restarts."""
        if not token:
            return "unknown"
        with self.tokens_lock:
            last_used = self.tokens.get(token)
            if last_used is None:
                return "unknown"
            if time.monotonic() - last_used > self.config.token_idle_s:
                return "expired"
            self.tokens[token] = time.monotonic()
            return "valid"


LOGIN_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>EQC 登录 (sandbox)</title></head>
<body><h1>EQC sandbox</h1>{message}
<form method="post" action="/login">
<label>用户名 <input name="username" id="username" autocomplete="username"></label>
<label>密码 <input name="password" id="password" type="password" autocomplete="current-password"></label>
<button type="submit" id="login">登录</button></form></body></html>"""

LOGGED_IN_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>EQC 搜索 (sandbox)</title></head>
<body><h1>已登录</h1><p id="status">searching…</p>
<script>
const token = {token_json};
fetch("{api}?key=" + encodeURIComponent("平安"), {{headers: {{"token": token}}}})
  .then(r => r.json())
  .then(body => {{ document.getElementById("status").textContent = "results: " + (body.list || []).length; }})
  .catch(() => {{ document.getElementById("status").textContent = "search failed"; }});
</script></body></html>"""


class SandboxHandler(BaseHTTPRequestHandler):
    server_version = "EQCSandbox/1.0"
    protocol_version = "HTTP/1.1"
    state: SandboxState  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the request log is the record
        return

    # -- responses --------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json; charset=utf-8", extra)

    def _html(self, page: str) -> None:
        self._send(200, page.encode(), "text/html; charset=utf-8")

    # -- routing ----------------------------------------------------------------------------
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path in ENDPOINTS:
            self._api(url.path, parse_qs(url.query))
        elif url.path in ("/", "/login"):
            self._html(LOGIN_PAGE.format(message=""))
        elif url.path == "/_sandbox/stats":
            snapshot = self.state.log.snapshot()
            if "events" not in parse_qs(url.query):
                snapshot.pop("events")
            self._json(200, snapshot)
        else:
            self._json(404, {"error": "NotFound"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace")) if length else {}
        if url.path == "/login":
            username = form.get("username", [""])[0]
            password = form.get("password", [""])[0]
            if (username, password) != (self.state.config.username, self.state.config.password):
                self._html(LOGIN_PAGE.format(message='<p id="error">用户名或密码错误</p>'))
                return
            token = self.state.issue_token()
            self._html(LOGGED_IN_PAGE.format(token_json=json.dumps(token), api=API))
        elif url.path == "/_sandbox/reset":
            self.state.log.reset()
            self._json(200, {"reset": True})
        else:
            self._json(404, {"error": "NotFound"})

    # -- the API ----------------------------------------------------------------------------
    def _api(self, path: str, query: dict[str, list[str]]) -> None:
        state, config = self.state, self.state.config
        endpoint, parameter = ENDPOINTS[path]
        if state.limiter is not None:
            wait = state.limiter.try_admit()
            if wait > 0:
                state.log.record(endpoint, "429")
                self._json(429, {"error": "TooManyRequests"}, {"Retry-After": str(max(1, int(wait + 0.999)))})
                return
        standing = state.token_state(self.headers.get("token"))
        if standing != "valid":
            if standing == "expired" and config.expiry_style == "body":
                state.log.record(endpoint, "200-TokenExpired")
                self._json(200, {"error": "TokenExpired"})
            else:
                state.log.record(endpoint, "401")
                self._json(401, {"error": "Unauthorized"})
            return
        if self.headers.get("Referer") and state.chance(config.quirk_403_rate):
            state.log.record(endpoint, "403")
            self._json(403, {"error": "Forbidden"})
            return
        time.sleep(state.latency(endpoint))
        if state.chance(config.fault_rate):
            kind = state.pick(config.fault_kinds)
            state.log.record(endpoint, f"fault-{kind}")
            if kind == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if kind == "slow":
                time.sleep(config.slow_ms / 1000)
            else:
                self._json(int(state.pick(("500", "502", "503"))), {"error": "ServerError"})
                return
        value = query.get(parameter, [""])[0]
        if not value:
            state.log.record(endpoint, "400")
            self._json(400, {"error": f"missing {parameter}"})
            return
        state.log.record(endpoint, "200")
        registry = state.registry
        if endpoint == "search":
            items = registry.search(value)
            self._json(200, {"list": items, "total": len(items)})
        elif endpoint == "searchAll":
            items = registry.search(value)[: int(query.get("pageSize", ["10"])[0] or 10)]
            self._json(200, {"list": items, "total": len(items), "currentPage": 1})
        elif endpoint == "findDepart":
            self._json(200, {"businessInfodto": registry.business_info(value)})
        else:
            self._json(200, {"labels": registry.labels(value)})


class SandboxServer:
    """The sandbox in a background thread: `with SandboxServer(config) as sandbox: sandbox.url`."""

    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SandboxState(config or SandboxConfig())
        handler = type("BoundSandboxHandler", (SandboxHandler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def issue_token(self) -> str:
        return self.state.issue_token()

    def max_admitted_in_any_window(self) -> int:
        """The most requests the limiter admitted within any one window (audit of the limit)."""
        limiter = self.state.limiter
        if limiter is None:
            return 0
        with limiter.lock:
            times = sorted(limiter.history)
        best, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= limiter.window:
                start += 1
            best = max(best, end - start + 1)
        return best

    def stats(self) -> dict[str, Any]:
        return self.state.log.snapshot()

    def start(self) -> SandboxServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- command line ---------------------------------------------------------------------------
def parse_latency(text: str) -> dict[str, tuple[int, int]]:
    """'500..2000' for every endpoint, or 'search=500..2000,findDepart=100..300'."""
    result: dict[str, tuple[int, int]] = {}
    for part in text.split(","):
        name, _, spec = part.rpartition("=")
        if name and name not in ENDPOINT_NAMES:
            raise argparse.ArgumentTypeError(f"unknown endpoint {name!r}; use one of {', '.join(ENDPOINT_NAMES)}")
        result[name or "*"] = millisecond_range(spec)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m python_enrich.sandbox",
        description=__doc__.splitlines()[0] + " Serves on 127.0.0.1; the first line printed is its URL.",
    )
    add: Callable[..., Any] = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    add("--port", type=int, default=0, help="0 (the default) picks a free port, printed on the first line")
    add(
        "--companies",
        type=int,
        default=SandboxConfig.companies,
        help="registry size (default %(default)s)",
    )
    add("--seed", type=int, default=42, help="registry seed, the sample data's seed (default %(default)s)")
    add("--registry", type=Path, help="load the registry from a JSON file (default: generate it)")
    add("--write-registry", type=Path, help="write the generated registry as JSON (to edit and --registry it) and exit")
    add(
        "--latency-ms", type=parse_latency, default={}, metavar="MIN..MAX",
        help="answer time per call, or endpoint=MIN..MAX,... per endpoint (default: none)",
    )  # fmt: skip
    add(
        "--rate-limit", type=rate_limit, metavar="R/W",
        help="at most R calls in any W seconds, e.g. 60/60: 429 + Retry-After beyond (default: no limit)",
    )  # fmt: skip
    add("--fault-rate", type=fraction, default=0.0, help="share of API calls that fail, 0..1 (default %(default)s)")
    add("--faults", default=",".join(FAULT_KINDS), help="kinds of faults, comma-separated (default %(default)s)")
    add("--fault-seed", type=int, default=1, help="seed of the fault sequence (default %(default)s)")
    add("--slow-ms", type=int, default=10_000, help="how long a 'slow' fault stalls, in ms (default %(default)s)")
    add(
        "--quirk-403-rate",
        type=fraction,
        default=0.0,
        help="share with a Referer answered 403 (default %(default)s)",
    )
    add(
        "--token-idle-s",
        type=float,
        default=1800.0,
        help="idle seconds before a token expires (default %(default)s)",
    )
    add(
        "--expiry-style",
        choices=["401", "body"],
        default="401",
        help='401, or 200 {"error": "TokenExpired"} (default 401)',
    )
    add("--token", action="append", default=[], help="a token accepted from the start (repeatable; default: none)")
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    kinds = tuple(kind.strip() for kind in args.faults.split(",") if kind.strip())
    unknown = set(kinds) - set(FAULT_KINDS)
    if unknown or not kinds:
        raise SystemExit(f"error: --faults takes {', '.join(FAULT_KINDS)}; got {args.faults!r}")
    return SandboxConfig(
        companies=args.companies, seed=args.seed, registry_file=args.registry, latency_ms=args.latency_ms,
        rate_limit=args.rate_limit, fault_rate=args.fault_rate, fault_kinds=kinds, fault_seed=args.fault_seed,
        slow_ms=args.slow_ms, quirk_403_rate=args.quirk_403_rate, token_idle_s=args.token_idle_s,
        expiry_style=args.expiry_style, tokens=tuple(args.token),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.write_registry:
        registry = build_registry(args.companies, args.seed)
        dump_registry(registry, args.write_registry)
        print(f"wrote {len(registry)} companies to {args.write_registry}")
        return 0
    try:
        server = SandboxServer(config_from_args(args), args.host, args.port)
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 2
    print(server.url, flush=True)
    companies = len(server.state.registry.companies)
    print(
        f"EQC sandbox: {companies} companies; login page {server.url}/ (user {server.state.config.username}); "
        f"stats {server.url}/_sandbox/stats",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
