"""The public-default salt warning, once per shell.

A user who has not set WDH_ALIAS_SALT is told once in each terminal session (the shell's session id
and its start time key a marker file under ~/.cache/python-enrich/), not again by every command.
When the marker cannot be written the warning is shown: saying it twice beats never saying it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# Set for dbt by ./run dbt and in-process builds once this shell has seen the warning, so that the
# on-run-start macro does not repeat it (macros/run_start_checks.sql).
SHOWN_ENV_VAR = "WDH_PUBLIC_SALT_NOTICE_SHOWN"
MARKER_MAX_AGE_S = 7 * 24 * 3600


def notice_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "python-enrich" / "public-salt-notices"


def shell_key() -> str:
    """This terminal session: its session id and its leader's start time (a session id is reused later)."""
    sid = os.getsid(0)
    try:
        started = Path(f"/proc/{sid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        started = "0"
    return f"{os.getuid()}-{sid}-{started}"


def first_time_in_this_shell() -> bool:
    """True the first time it is asked in this shell (then the caller warns); False afterwards."""
    directory = notice_dir()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        prune(directory)
        fd = os.open(directory / shell_key(), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    except OSError:
        return True
    os.close(fd)
    return True


def prune(directory: Path) -> None:
    """Forget sessions older than a week (a marker is an empty file)."""
    cutoff = time.time() - MARKER_MAX_AGE_S
    for marker in directory.iterdir():
        try:
            if marker.stat().st_mtime < cutoff:
                marker.unlink()
        except OSError:
            pass
