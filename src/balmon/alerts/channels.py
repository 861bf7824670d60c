"""Alert channels: Apprise URLs from the settings, named without their secrets."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import SecretStr

from balmon import limits
from balmon.errors import DeliveryError

# balmon's built-in channel: messages stay in the outbox, shown on the dashboard's Alerts page.
INBOX_SCHEME = "inbox"
# Schemes whose messages must fit a text message.
SMS_SCHEMES = frozenset(
    {
        "twilio", "sns", "clicksend", "msg91", "nexmo", "vonage", "plivo", "sinch", "bulksms",
        "d7sms", "smseagle", "kavenegar", "msgbird", "textbelt", "seven", "smsmgr", "bulkvs",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Channel:
    """One configured Apprise URL, its tags and a name that is safe to store and show."""

    index: int
    url: SecretStr
    name: str
    tags: frozenset[str]
    is_sms: bool

    @property
    def is_inbox(self) -> bool:
        """`inbox://`: balmon's own channel, read on the dashboard's Alerts page (no network)."""
        return self.url.get_secret_value().startswith(f"{INBOX_SCHEME}://")

    def redact(self, text: str) -> str:
        """Remove anything of the URL that could be a secret from `text`."""
        for secret in _secret_parts(self.url.get_secret_value()):
            text = text.replace(secret, "***")
        return text


def _secret_parts(url: str) -> list[str]:
    parts = urlsplit(url.replace("#", "%23"))
    try:
        candidates = [parts.username or "", parts.password or ""]
    except ValueError:
        candidates = []
    candidates += [part for part in parts.netloc.replace("@", ":").split(":") if len(part) >= 6]
    candidates += [seg for seg in parts.path.split("/") if len(seg) >= 6]
    candidates += [value for _, value in parse_qsl(parts.query) if len(value) >= 6]
    return sorted({c for c in candidates if c}, key=len, reverse=True)


def _split_tags(url: str) -> tuple[str, frozenset[str]]:
    # Split by hand: Apprise URLs have no fragments, and `#channel` (Slack) is part of the path.
    base, _, query = url.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    tags = {
        t.strip() for key, value in pairs if key == "tag" for t in value.split(",") if t.strip()
    }
    rest = urlencode([(k, v) for k, v in pairs if k != "tag"])
    return (f"{base}?{rest}" if rest else base), frozenset(tags)


def _name(index: int, url: str, label: str) -> str:
    parts = urlsplit(url.partition("?")[0].replace("#", "%23"))
    host = parts.hostname or "?"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # e.g. a Telegram bot token where a port would be
        port = ""
    return f"{label}{parts.scheme}://{host}{port} #{index}"


def parse_channels(urls: list[SecretStr], label: str = "") -> list[Channel]:
    """The configured channels, in order; `?tag=a,b` on a URL sets its routing tags.
    `label` starts their names, so lists of another setting (the escalation channels) never
    share a name with `alerts.urls`'s."""
    channels = []
    for index, secret in enumerate(urls, start=1):
        url, tags = _split_tags(secret.get_secret_value())
        scheme = urlsplit(url).scheme.lower()
        is_sms = scheme in SMS_SCHEMES or "sms" in tags
        channels.append(Channel(index, SecretStr(url), _name(index, url, label), tags, is_sms))
    return channels


def route(channels: list[Channel], severity: str, routes: dict[str, list[str]]) -> list[Channel]:
    """Channels a message of `severity` goes to: all, unless `routes` names tags for it."""
    wanted = routes.get(severity)
    if not wanted:
        return list(channels)
    return [c for c in channels if c.tags & set(wanted)]


class Notifier(Protocol):
    async def send(self, channel: Channel, title: str, body: str) -> None:
        """Deliver one message to one channel; raise `DeliveryError` when it fails."""
        ...


_WHITESPACE = re.compile(r"\s+")


class AppriseNotifier:
    """Delivers through Apprise, one channel at a time, so each gets its own outcome."""

    def __init__(self) -> None:
        # Apprise's and urllib3's debug lines can carry webhook tokens: keep them out of logs.
        quiet = logging.getLogger("apprise")
        quiet.propagate = False
        quiet.addHandler(logging.NullHandler())
        logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)

    async def send(self, channel: Channel, title: str, body: str) -> None:
        if channel.is_inbox:
            return  # the message is already stored: the dashboard's Alerts page is its inbox
        import apprise

        service = apprise.Apprise()
        if not service.add(channel.url.get_secret_value()):
            raise DeliveryError("not a valid Apprise URL")
        # Plain text: Apprise would otherwise treat the body as HTML and fold its lines.
        result = await service.async_notify(
            body=body, title=title, body_format=apprise.NotifyFormat.TEXT
        )
        if not result:
            raise DeliveryError(channel.redact(_reason(result)))


def _reason(result: object) -> str:
    logs = getattr(result, "logs", None)
    messages = [entry.message for entry in logs()] if callable(logs) else []
    text = messages[-1] if messages else "the channel refused the message"
    return limits.clip(_WHITESPACE.sub(" ", str(text)), limits.REASON)
