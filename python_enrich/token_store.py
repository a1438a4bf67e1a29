"""Where the EQC token lives: WDH_EQC_TOKEN in the environment, else the env file token capture
writes (default .wdh_env in the project, or WDH_ENV_FILE).  The file is written with mode 0600 and
keeps every other line and comment."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from python_enrich.paths import PROJECT_DIR

TOKEN_ENV_VAR = "WDH_EQC_TOKEN"  # noqa: S105 - a variable name, not a secret
ENV_FILE_ENV_VAR = "WDH_ENV_FILE"
_ASSIGNMENT = re.compile(rf"^\s*(?:export\s+)?{TOKEN_ENV_VAR}\s*=")


def default_env_file() -> Path:
    return Path(os.environ.get(ENV_FILE_ENV_VAR) or PROJECT_DIR / ".wdh_env")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def read_token(env_file: Path | None = None) -> str | None:
    """The token from the environment, else from the env file; None when neither has one."""
    if os.environ.get(TOKEN_ENV_VAR):
        return os.environ[TOKEN_ENV_VAR].strip()
    path = env_file or default_env_file()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):  # the last assignment wins, as in a shell
        if _ASSIGNMENT.match(line):
            token = _unquote(line.split("=", 1)[1])
            return token or None
    return None


def save_token(token: str, env_file: Path | None = None) -> Path:
    """Write or replace WDH_EQC_TOKEN=… in the env file, keeping every other line; mode 0600."""
    if not token or any(ch.isspace() or ch in "'\"\\" for ch in token):
        raise ValueError("a token must be non-empty and free of spaces and quotes")
    path = env_file or default_env_file()
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    replaced = False
    kept: list[str] = []
    for line in lines:
        if _ASSIGNMENT.match(line):
            if not replaced:
                kept.append(f"{TOKEN_ENV_VAR}={token}")
                replaced = True
            continue
        kept.append(line)
    if not replaced:
        kept.append(f"{TOKEN_ENV_VAR}={token}")
    path.parent.mkdir(parents=True, exist_ok=True)
    # A new file created 0600 and renamed over the old: the token is never readable by others.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".wdh_env.")
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("\n".join(kept) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
