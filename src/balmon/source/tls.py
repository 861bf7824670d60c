"""The TLS settings of the Balance API, checked once for every client."""

from __future__ import annotations

import ssl

from balmon.config.settings import SourceSettings
from balmon.errors import ConfigError


def tls_context(settings: SourceSettings) -> ssl.SSLContext:
    """Verified TLS, always: the system's authorities, or only `ca_file`'s (a bank's private
    CA), and the client certificate for mutual TLS when one is configured."""
    key = "source.ca_file"
    try:
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        if settings.client_cert_file is not None:
            key = "source.client_cert_file"
            context.load_cert_chain(
                settings.client_cert_file,
                settings.client_key_file,
                password=lambda: b"",  # an encrypted key fails here instead of prompting
            )
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise ConfigError(key, f"not a usable PEM file ({reason})") from None
    return context
