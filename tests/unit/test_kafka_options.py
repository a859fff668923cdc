"""The connection settings, translated once: aiokafka clients and Faust reach the cluster the same way.

No mocks: the TLS files are real PEM files made by openssl, the clients are real aiokafka objects
(constructed, never started), and the Faust side goes through Faust's own translation to aiokafka.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import ValidationError

from services.admin import topic_config
from services.cli import main
from services.kafka_options import (
    UnreadableTlsFile,
    client_options,
    faust_credentials,
    producer_options,
)
from services.settings import Settings
from services.topics import EVENTS

CLUSTER = "kafka-1:9093,kafka-2:9093,kafka-3:9093"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what each test passes counts, whatever the shell that runs pytest exports."""
    for name in list(os.environ):
        if name.startswith("COMPLAINTFLOW_") or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed CA and a client certificate with its key, as a broker's operator would hand them out."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make test certificates")
    folder = tmp_path_factory.mktemp("pem")
    ca, ca_key = folder / "ca.crt", folder / "ca.key"
    client, client_key = folder / "client.crt", folder / "client.key"
    run = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
    subprocess.run([*run, "-keyout", ca_key, "-out", ca, "-subj", "/CN=test-ca"], check=True, capture_output=True)
    subprocess.run(
        [*run, "-keyout", client_key, "-out", client, "-subj", "/CN=complaintflow", "-CA", ca, "-CAkey", ca_key],
        check=True,
        capture_output=True,
    )
    return {"ca": ca, "cert": client, "key": client_key}


def secured(**overrides: Any) -> Settings:
    return Settings(kafka_bootstrap_servers=CLUSTER, **overrides)


def connections(pem: dict[str, Path]) -> dict[str, Settings]:
    return {
        "plaintext": secured(),
        "mutual TLS": secured(
            security_protocol="SSL", ssl_cafile=pem["ca"], ssl_certfile=pem["cert"], ssl_keyfile=pem["key"]
        ),
        "SCRAM over TLS": secured(
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="complaintflow",
            sasl_password="s3cret",
            ssl_cafile=pem["ca"],
        ),
        "PLAIN without TLS": secured(
            security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u", sasl_password="p"
        ),
    }


def test_the_default_is_plaintext_to_the_embedded_broker() -> None:
    settings = Settings()
    assert client_options(settings) == {"bootstrap_servers": "127.0.0.1:19092", "security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_sasl_ssl_verifies_the_brokers_and_sends_the_user(pem: dict[str, Path]) -> None:
    options = client_options(connections(pem)["SCRAM over TLS"])
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": CLUSTER,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "complaintflow",
        "sasl_plain_password": "s3cret",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert any(entry["subject"] == ((("commonName", "test-ca"),),) for entry in context.get_ca_certs())


@pytest.mark.parametrize("connection", ["plaintext", "mutual TLS", "SCRAM over TLS", "PLAIN without TLS"])
def test_faust_reaches_the_cluster_exactly_as_the_aiokafka_clients_do(pem: dict[str, Path], connection: str) -> None:
    settings = connections(pem)[connection]
    ours = client_options(settings)
    del ours["bootstrap_servers"]  # Faust takes the servers from its broker URL
    faust_side = {
        key: value for key, value in credentials_to_aiokafka_auth(faust_credentials(settings)).items() if value
    }
    assert faust_side.keys() == ours.keys()
    for key, value in ours.items():
        if key == "ssl_context":  # a context of its own, loaded from the same files
            assert faust_side[key].get_ca_certs() == value.get_ca_certs()
        else:
            assert faust_side[key] == value


@pytest.mark.parametrize("connection", ["plaintext", "mutual TLS", "SCRAM over TLS", "PLAIN without TLS"])
async def test_every_kind_of_aiokafka_client_accepts_the_options(pem: dict[str, Path], connection: str) -> None:
    settings = connections(pem)[connection]
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None)
    producer = AIOKafkaProducer(**client_options(settings), **producer_options(settings))
    admin = AIOKafkaAdminClient(**client_options(settings))
    await consumer.stop()  # never started: nothing connects, the constructors have checked the options
    await producer.stop()
    await admin.close()


def test_the_faust_app_gets_the_credentials_and_acks_from_all_replicas(pem: dict[str, Path]) -> None:
    from services.app import create_app

    settings = connections(pem)["SCRAM over TLS"].model_copy(update={"app_id": "credentials-test"})
    conf = create_app(settings).conf
    assert conf.broker_credentials.mechanism.value == "SCRAM-SHA-512"
    assert conf.broker_credentials.protocol.value == "SASL_SSL"
    assert conf.producer_acks == -1


def test_the_workers_producer_builds_batches_as_large_and_lingers_as_long_as_configured() -> None:
    from services.app import create_app

    settings = Settings(app_id="batches-test", producer_batch_bytes=131_072, producer_linger_ms=7)
    producer = create_app(settings).producer
    options = producer._settings_default()  # what Faust hands aiokafka's AIOKafkaProducer
    assert (options["max_batch_size"], options["linger_ms"]) == (131_072, 7)


def test_producers_wait_for_every_in_sync_replica_and_are_idempotent_when_asked() -> None:
    assert producer_options(Settings()) == {"acks": "all", "enable_idempotence": False}
    assert producer_options(secured(producer_idempotence=True)) == {"acks": "all", "enable_idempotence": True}


def test_a_missing_tls_file_is_named(tmp_path: Path) -> None:
    settings = secured(security_protocol="SSL", ssl_cafile=tmp_path / "absent.crt")
    with pytest.raises(UnreadableTlsFile, match=r"COMPLAINTFLOW_SSL_CAFILE=.*absent\.crt: no such file"):
        client_options(settings)


def test_a_file_that_is_not_pem_is_refused_with_what_is_expected(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("not a certificate")
    settings = secured(security_protocol="SSL", ssl_cafile=tmp_path / "ca.crt")
    with pytest.raises(UnreadableTlsFile, match="must be PEM"):
        faust_credentials(settings)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"security_protocol": "SASL_SSL"}, "SASL_SSL needs COMPLAINTFLOW_SASL_MECHANISM, COMPLAINTFLOW_SASL_USERNAME"),
        (
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u"},
            "needs COMPLAINTFLOW_SASL_PASSWORD",
        ),
        ({"sasl_username": "u"}, "COMPLAINTFLOW_SASL_USERNAME set but COMPLAINTFLOW_SECURITY_PROTOCOL is PLAINTEXT"),
        ({"ssl_cafile": "/ca.crt"}, "COMPLAINTFLOW_SSL_CAFILE set but COMPLAINTFLOW_SECURITY_PROTOCOL is PLAINTEXT"),
        (
            {
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": "PLAIN",
                "sasl_username": "u",
                "sasl_password": "p",
                "ssl_cafile": "/ca.crt",
            },
            "uses no TLS",
        ),
        (
            {"security_protocol": "SSL", "ssl_keyfile": "/k.pem"},
            "SSL_KEYFILE is set without COMPLAINTFLOW_SSL_CERTFILE",
        ),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI"}, "sasl_mechanism"),
        (
            {"replication_factor": 3, "min_insync_replicas": 4},
            "COMPLAINTFLOW_MIN_INSYNC_REPLICAS=4 exceeds COMPLAINTFLOW_REPLICATION_FACTOR=3",
        ),
        ({"store": "redis://"}, "not one of memory://, rocksdb://"),
    ],
)
def test_inconsistent_connection_settings_are_refused_with_the_fix(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        secured(**settings)


def test_the_embedded_broker_is_not_asked_for_what_it_cannot_do() -> None:
    with pytest.raises(ValidationError, match="the embedded broker speaks PLAINTEXT only"):
        Settings(security_protocol="SSL")
    with pytest.raises(ValidationError, match="COMPLAINTFLOW_PRODUCER_IDEMPOTENCE=false"):
        Settings(producer_idempotence=True)


def test_replicated_topics_need_in_sync_acks_and_never_elect_a_stale_leader() -> None:
    production = secured(replication_factor=3, min_insync_replicas=2)
    assert topic_config(production, EVENTS) == {
        "cleanup.policy": "delete",
        "retention.ms": "-1",
        "min.insync.replicas": "2",
        "unclean.leader.election.enable": "false",
    }
    assert topic_config(Settings(), EVENTS) == EVENTS.topic_config()  # the embedded broker gets what it always got


def test_the_command_line_names_the_variable_to_fix_and_never_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", CLUSTER)
    monkeypatch.setenv("COMPLAINTFLOW_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("COMPLAINTFLOW_SASL_PASSWORD", "hunter2")
    assert main(["topics"]) == 2
    error = capsys.readouterr().err
    assert "SASL_SSL needs COMPLAINTFLOW_SASL_MECHANISM, COMPLAINTFLOW_SASL_USERNAME" in error
    assert "hunter2" not in error
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "hunter2" not in str(refused.value)
