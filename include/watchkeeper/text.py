"""Text that leaves the engine (Slack mrkdwn, HTML, MLflow keys): escaping of anything from data or configuration.

Slack's mrkdwn treats `&`, `<` and `>` as control characters (`<!channel>` pings, `<url|text>` plants a link); these
are the three Slack asks senders to escape. HTML escaping is `html.escape`.
"""

from __future__ import annotations

_MRKDWN = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape_mrkdwn(value: object) -> str:
    """`value` as inert Slack text: no mentions, links or channel pings can be formed from it."""
    return str(value).translate(_MRKDWN)


def clip(text: str, limit: int, tail: str = "…") -> str:
    """`text` cut to at most `limit` characters, ending with `tail` when cut."""
    return text if len(text) <= limit else text[: max(limit - len(tail), 0)] + tail
