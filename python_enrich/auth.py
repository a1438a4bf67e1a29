"""Get and check the EQC token.

    python -m python_enrich.auth --capture [--save] [--env-file PATH] [--url URL] [--timeout S] [--headless]
    python -m python_enrich.auth --check [--env-file PATH]

--capture opens Chromium (the system's, through Playwright) on the EQC site; you log in as usual,
and the token is read from the `token` header of the first request the site makes to
/kg-api-hfd/api/search/.  It is validated with the cheap check call and, with --save, written to
the env file as WDH_EQC_TOKEN=… (mode 0600, every other line kept).  Only a masked token is shown.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from python_enrich.eqc.client import (
    SEARCH_PATH,
    BadBaseURL,
    EQCClient,
    EQCError,
    TokenExpired,
    base_url_from_env,
    check_base_url,
    mask_token,
)
from python_enrich.errors import first_line
from python_enrich.token_store import default_env_file, read_token, save_token

CHROMIUM_FLAGS = [
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
    "--no-first-run", "--disable-gpu",
]  # fmt: skip
EXIT_OK, EXIT_INVALID, EXIT_CANNOT = 0, 1, 2


class CaptureFailed(RuntimeError):
    """Capture ended without a token; the message says why and what to do."""


def find_chromium() -> str:
    for candidate in (os.environ.get("WDH_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):  # fmt: skip
        if candidate and Path(candidate).is_file():
            return candidate
    raise CaptureFailed("Chromium is not installed: apt-get install chromium (or set WDH_CHROMIUM to its path)")


def launch_chromium(playwright: Any, headless: bool) -> Any:
    flags = [*CHROMIUM_FLAGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    return playwright.chromium.launch(executable_path=find_chromium(), headless=headless, args=flags)


def capture_token(
    url: str, timeout_s: float, headless: bool = False, on_page: Callable[[Any], None] | None = None
) -> tuple[str, str]:
    """(token, API base URL) from the first search request the logged-in site makes.

    on_page runs once the page is open (tests use it to log in as a person would).
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    captured: dict[str, str] = {}

    def on_request(request: Any) -> None:
        parts = urlsplit(request.url)
        token = request.headers.get("token")
        if token and not captured and parts.path.startswith(SEARCH_PATH):
            captured["token"] = token
            captured["base_url"] = f"{parts.scheme}://{parts.netloc}"

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, headless)
        try:
            page = browser.new_page()
            page.on("request", on_request)
            try:
                page.goto(url, timeout=timeout_s * 1000)
            except PlaywrightError as error:
                raise CaptureFailed(f"could not open {url}: {first_line(error)}") from None
            if on_page is not None:
                on_page(page)
            deadline = time.monotonic() + timeout_s
            while "token" not in captured:
                if time.monotonic() > deadline:
                    raise CaptureFailed(
                        f"no login within {timeout_s:g} s: run the command again and log in, or raise --timeout"
                    )
                try:
                    page.wait_for_timeout(200)
                except PlaywrightError:
                    raise CaptureFailed(
                        "the browser was closed before a token was captured: run the command again"
                    ) from None
        finally:
            try:
                browser.close()
            except PlaywrightError:
                pass
    return captured["token"], captured["base_url"]


def check(token: str, base_url: str) -> tuple[int, str]:
    """(exit code, one line) for a token: valid, refused, or not checkable now."""
    client = EQCClient(token, base_url)
    try:
        client.check_token()
    except TokenExpired:
        return (
            EXIT_INVALID,
            f"token {mask_token(token)} is invalid or expired: run python -m python_enrich.auth --capture --save",
        )
    except EQCError as error:
        return EXIT_CANNOT, f"could not check token {mask_token(token)}: {error}"
    finally:
        client.close()
    return EXIT_OK, f"token {mask_token(token)} is valid"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m python_enrich.auth", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--capture", action="store_true", help="log in with Chromium and capture the token")
    mode.add_argument("--check", action="store_true", help="validate the current token (exit 0 valid, 1 not)")
    parser.add_argument("--save", action="store_true", help="write WDH_EQC_TOKEN into the env file")
    parser.add_argument("--env-file", type=Path, help=f"env file (default {default_env_file()})")
    parser.add_argument("--url", help="the page to open (default: the EQC base URL)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the login (default 300)")
    parser.add_argument("--headless", action="store_true", help="no visible window (automation only)")
    args = parser.parse_args(argv)
    try:
        base_url = check_base_url(base_url_from_env())
    except BadBaseURL as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CANNOT

    if args.check:
        token = read_token(args.env_file)
        if not token:
            print("no EQC token: run python -m python_enrich.auth --capture --save (or set WDH_EQC_TOKEN)")
            return EXIT_INVALID
        code, line = check(token, base_url)
        print(line)
        return code

    try:
        token, api_base = capture_token(args.url or base_url + "/", args.timeout, args.headless)
    except CaptureFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    code, line = check(token, api_base)
    print(f"captured token {mask_token(token)}; {line}")
    if code != EXIT_OK:
        return code
    if args.save:
        path = save_token(token, args.env_file)
        print(f"saved WDH_EQC_TOKEN to {path} (mode 0600)")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
