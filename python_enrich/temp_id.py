"""Deterministic temporary company ids (contract: docs/temp-ids.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from typing import Any

from python_enrich.normalization import normalize_company_name
from python_enrich.salt_notice import first_time_in_this_shell

SALT_ENV_VAR = "WDH_ALIAS_SALT"
PUBLIC_DEFAULT_SALT = "default_dev_salt_change_in_prod"
EMPTY_MESSAGE = "__empty__"
# The session setting through which the salt reaches PostgreSQL (see python_enrich.pgenv).
SALT_SETTING = "wdh.alias_salt"

log = logging.getLogger(__name__)
_warned_default = False


def salt_from_env() -> str:
    """The salt from WDH_ALIAS_SALT, or the old system's public default with a loud warning (once
    per shell, see python_enrich.salt_notice)."""
    global _warned_default
    salt = os.environ.get(SALT_ENV_VAR, "")
    if salt:
        return salt
    if not _warned_default:
        _warned_default = True
        if first_time_in_this_shell():
            log.warning(
                "%s is not set: temporary ids use the PUBLIC default salt of the old warehouse. "
                "Anyone can recompute them; set %s to your own secret for production data "
                "(README: Choosing a salt). Said once per shell.",
                SALT_ENV_VAR,
                SALT_ENV_VAR,
            )
    return PUBLIC_DEFAULT_SALT


def temp_id_for_normalized(normalized: str, salt: str) -> str:
    """IN + Base32(first 10 bytes of HMAC-SHA1(salt, normalized or "__empty__"))."""
    message = normalized or EMPTY_MESSAGE
    digest = hmac.new(salt.encode("utf-8"), message.encode("utf-8"), hashlib.sha1).digest()
    return "IN" + base64.b32encode(digest[:10]).decode("ascii")


def temp_company_id(name: Any, salt: str | None = None) -> str | None:
    """Temporary id of a raw name; None when the name normalizes to "" (it has no identity)."""
    normalized = normalize_company_name(name)
    if not normalized:
        return None
    return temp_id_for_normalized(normalized, salt if salt is not None else salt_from_env())
