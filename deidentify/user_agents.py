"""User agents reduced to browser family, OS family, device type and a bot flag (ua-parser)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ua_parser import parse

_BOT = re.compile(
    r"bot\b|bot/|crawler|spider|slurp|curl/|wget/|python-requests|python-urllib|httpclient|"
    r"go-http-client|java/|okhttp|headlesschrome|phantomjs|libwww|scrapy|facebookexternalhit|"
    r"monitor|pingdom|uptime",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class UserAgentParts:
    """What silver keeps of a user agent: no version numbers, no raw string."""

    browser_family: str
    os_family: str
    device_type: str
    is_bot: bool


UNKNOWN = UserAgentParts("Unknown", "Unknown", "unknown", False)


def classify(user_agent: str | None) -> UserAgentParts:
    """Browser family, OS family, device type (desktop, mobile, tablet, bot) and bot flag."""
    if not user_agent or not user_agent.strip():
        return UNKNOWN
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else "Other"
    os_family = result.os.family if result.os else "Other"
    device = result.device.family if result.device else "Other"
    is_bot = device == "Spider" or _BOT.search(user_agent) is not None
    if is_bot:
        kind = "bot"
    elif (
        device == "iPad"
        or "Tablet" in user_agent
        or ("Android" in user_agent and "Mobile" not in user_agent)
    ):
        kind = "tablet"
    elif "Mobi" in user_agent or device == "iPhone":
        kind = "mobile"
    else:
        kind = "desktop"
    return UserAgentParts(browser, os_family, kind, is_bot)


def classify_many(user_agents: Sequence[str | None]) -> list[UserAgentParts]:
    """`classify` for each value, parsing each distinct user agent once."""
    seen: dict[str | None, UserAgentParts] = {}
    out = []
    for agent in user_agents:
        parts = seen.get(agent)
        if parts is None:
            parts = seen[agent] = classify(agent)
        out.append(parts)
    return out
