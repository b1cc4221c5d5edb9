"""Keeping secrets out of messages and logs: credentials embedded in URIs, and URLs that are secrets themselves.

A Slack incoming-webhook URL is the secret (whoever has it can post), so log records that name a URL keep only its
scheme and host. Storage URIs with user info (`s3://KEY:SECRET@bucket`) are refused before use and shown redacted.
"""

from __future__ import annotations

import logging
import re

_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#@]*@")
_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://)([^/\s?#@]*@)?([^/\s?#'\"]*)[^\s'\"]*")


def has_userinfo(uri: str) -> bool:
    """True for a URI carrying credentials before its host, whatever the case of its scheme."""
    return bool(_USERINFO.match(uri.strip()))


def redact_uri(uri: str) -> str:
    """`uri` with any embedded credentials replaced by `***`."""
    return _USERINFO.sub(r"\1***@", uri.strip())


def redact_urls(text: str) -> str:
    """Every URL in `text` cut to its scheme and host (`https://hooks.slack.com/***`), credentials removed."""
    return _URL.sub(lambda m: f"{m.group(1)}{m.group(3)}/***", text)


class UrlRedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message with `redact_urls` (for clients that log their URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_urls(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def redacting_logger(name: str) -> logging.Logger:
    """A logger under `name` whose records never carry a full URL."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, UrlRedactingFilter) for f in logger.filters):
        logger.addFilter(UrlRedactingFilter())
    return logger
