"""Channel URLs: tags, names without secrets, SMS detection, routing."""

from __future__ import annotations

from pydantic import SecretStr

from balmon.alerts.channels import parse_channels, route


def _channels(*urls: str) -> list:  # type: ignore[type-arg]
    return parse_channels([SecretStr(u) for u in urls])


def test_names_never_carry_credentials_and_odd_urls_do_not_crash() -> None:
    slack, mail, telegram, twilio = _channels(
        "slack://T0000/B0000/XXXXSECRETXXXX/#ops-alerts?tag=chat",
        "mailtos://alerts:hunter22@smtp.bank.example:587?to=ops@bank.example&tag=email",
        "tgram://123456789:ABCdefSECRET/987654",
        "twilio://ACsid:AUTHSECRET@+15550001111/+15552223333",
    )
    assert slack.tags == {"chat"} and slack.url.get_secret_value().endswith("/#ops-alerts")
    assert mail.name == "mailtos://smtp.bank.example:587 #2" and mail.tags == {"email"}
    assert "tag=" not in mail.url.get_secret_value()
    assert telegram.name.startswith("tgram://") and "SECRET" not in telegram.name
    assert twilio.is_sms and not mail.is_sms
    for channel in (slack, mail, telegram, twilio):
        assert "SECRET" not in channel.name and "hunter22" not in channel.name
    assert "hunter22" not in mail.redact("login failed for alerts:hunter22")
    assert "XXXXSECRETXXXX" not in slack.redact("POST /XXXXSECRETXXXX failed")


def test_routes_pick_channels_by_tag_and_default_to_all() -> None:
    chat, mail = _channels("json://a/x?tag=chat,sms", "json://b/y?tag=email")
    routes = {"HIGH": ["chat"], "LOW": ["email"]}
    assert route([chat, mail], "HIGH", routes) == [chat]
    assert route([chat, mail], "LOW", routes) == [mail]
    assert route([chat, mail], "MEDIUM", routes) == [chat, mail]
    assert chat.is_sms
