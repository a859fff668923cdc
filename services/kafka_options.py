"""How every Kafka client here reaches the cluster: one translation of the settings, two dialects.

`client_options` gives the keyword arguments of any aiokafka client (producer, consumer, admin):
the bootstrap servers, the security protocol, the TLS context, the SASL user. Every client the
services construct takes them, so a secured cluster needs no change anywhere else. `faust_credentials`
says the same to Faust, whose aiokafka driver turns them back into those same keyword arguments
(tests/unit/test_kafka_options.py checks that the two agree).

Producers add `producer_options`: acks from every in-sync replica always; idempotence only when the
settings ask for it, since the embedded broker refuses InitProducerId. Faust's own producer is
acks=all too (services/app.py) but has no idempotence switch outside exactly-once mode, which
needs transactions (docs/operations.md).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiokafka.helpers import create_ssl_context

from events.errors import ConfigurationError
from services.settings import SASL_PROTOCOLS, TLS_PROTOCOLS, Settings

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT


class UnreadableTlsFile(ConfigurationError):
    """A CA, certificate or key file named in the settings cannot be read or is not valid PEM."""


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client: where the cluster is and how to authenticate to it."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    if settings.security_protocol in TLS_PROTOCOLS:
        options["ssl_context"] = tls_context(settings)
    if settings.security_protocol in SASL_PROTOCOLS:
        assert settings.sasl_password is not None  # Settings refuses SASL without one
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return options


def producer_options(settings: Settings) -> dict[str, Any]:
    """What every producer adds: a write counts once all in-sync replicas have it (min.insync.replicas
    of them at least), and retries cannot duplicate it where the broker grants idempotence."""
    return {"acks": "all", "enable_idempotence": settings.producer_idempotence}


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """The same connection for faust.App(broker_credentials=...); None = PLAINTEXT. Faust is imported
    here, not with the module: the plain aiokafka clients (replay, the CLI's) never pay for it."""
    import faust

    protocol = settings.security_protocol
    context = tls_context(settings) if protocol in TLS_PROTOCOLS else None
    if protocol in SASL_PROTOCOLS:
        assert settings.sasl_password is not None  # Settings refuses SASL without one
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password.get_secret_value(),
            ssl_context=context,  # with a context Faust speaks SASL_SSL, without one SASL_PLAINTEXT
            mechanism=settings.sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def tls_context(settings: Settings) -> ssl.SSLContext:
    """A client TLS context that verifies the brokers (hostname included) against `ssl_cafile`, or the
    system's CAs when unset, and presents the client certificate when one is configured."""
    for name, path in (
        ("COMPLAINTFLOW_SSL_CAFILE", settings.ssl_cafile),
        ("COMPLAINTFLOW_SSL_CERTFILE", settings.ssl_certfile),
        ("COMPLAINTFLOW_SSL_KEYFILE", settings.ssl_keyfile),
    ):
        if path is not None and not Path(path).is_file():
            raise UnreadableTlsFile(f"{name}={path}: no such file (mount it, or correct the path)")
    try:
        return create_ssl_context(
            cafile=settings.ssl_cafile, certfile=settings.ssl_certfile, keyfile=settings.ssl_keyfile
        )
    except (ssl.SSLError, OSError) as error:
        raise UnreadableTlsFile(
            f"cannot load the TLS files (COMPLAINTFLOW_SSL_CAFILE={settings.ssl_cafile}, "
            f"COMPLAINTFLOW_SSL_CERTFILE={settings.ssl_certfile}, COMPLAINTFLOW_SSL_KEYFILE={settings.ssl_keyfile}): "
            f"{error}; they must be PEM, the key unencrypted and matching the certificate"
        ) from None
