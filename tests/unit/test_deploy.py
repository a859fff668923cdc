"""deploy/ keeps the production invariants: every compose file and every rendered Kustomize overlay.

Each deployment is reduced to what its containers really get (tests/deploy.py) and checked by
`problems`: topics replicated 3 times needing 2 in sync, unclean leader election off, producers
acks=all and idempotent, nobody root, workers probed on /healthz and scraped on /metrics, one
partition count per deployment and no more workers than partitions, tables on persistent
volumes, every file setting mounted, and every environment variable one the settings object
knows (and, together, valid settings). The laptop variants run one broker, so replication 1 is
right there; everything else holds for them too. The second half breaks each invariant in a copy
and checks that `problems` names it: a check that cannot fail proves nothing.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices, ValidationError

from services.admin import planned_topics, topic_config
from services.kafka_options import producer_options
from services.rules import SHIPPED_CALENDAR, SHIPPED_POLICY
from services.settings import Settings
from tests.deploy import (
    DEPLOY,
    ROOT,
    Container,
    Deployment,
    dockerfile_instructions,
    from_compose,
    from_kubernetes,
    in_build_context,
    kustomize,
)

COMPOSE = DEPLOY / "compose"
KUSTOMIZE = DEPLOY / "k8s"
PRODUCTION = {"compose.yaml", "k8s/base", "k8s/overlays/production"}
LAPTOP = {"compose.single.yaml", "k8s/overlays/laptop"}


def known_variables() -> set[str]:
    """Every environment variable the settings object reads (aliases included)."""
    names = set()
    for name, field in Settings.model_fields.items():
        if isinstance(field.validation_alias, AliasChoices):
            names |= {choice for choice in field.validation_alias.choices if isinstance(choice, str)}
        else:
            names.add(f"COMPLAINTFLOW_{name.upper()}")
    return names


KNOWN = known_variables()


def is_ours(variable: str) -> bool:
    return variable.startswith("COMPLAINTFLOW_") or variable == "KAFKA_BOOTSTRAP_SERVERS"


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """Exactly `env`, as a container would have it, while the settings read it."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def settings_of(container: Container) -> Settings:
    with environment(container.env):
        return Settings()


def load(name: str) -> Deployment:
    if name.startswith("k8s/"):
        return from_kubernetes(name, kustomize(DEPLOY / name))
    return from_compose(name, yaml.safe_load((COMPOSE / name).read_text(encoding="utf-8")), COMPOSE)


def problems(deployment: Deployment) -> list[str]:
    """Every invariant the deployment breaks, in words; [] when it keeps them all."""
    production = deployment.name in PRODUCTION
    found = list(deployment.structure) + [f"{where}: no health check" for where in deployment.unprobed]
    settings: dict[str, Settings] = {}
    for container in deployment.containers:
        unknown = sorted(name for name in container.env if is_ours(name) and name not in KNOWN)
        if unknown:
            found.append(f"{container.where}: {unknown} are not settings (services/settings.py)")
        try:
            settings[container.where] = settings_of(container)
        except ValidationError as error:
            found.append(f"{container.where}: invalid settings: {error}")
    if not deployment.workers:
        found.append(f"{deployment.name}: no worker")
    counts = {chosen.partitions for chosen in settings.values()}
    if len(counts) > 1:
        found.append(f"{deployment.name}: partition counts differ between containers: {sorted(counts)}")
    workers = sum(worker.replicas for worker in deployment.workers)
    if counts and workers > min(counts):
        found.append(f"{deployment.name}: {workers} workers, only {min(counts)} partitions to share")
    for container in deployment.containers:
        if container.where in settings:
            found += container_problems(deployment, container, settings[container.where], production)
    replication = {(chosen.replication_factor, chosen.min_insync_replicas) for chosen in settings.values()}
    for broker in deployment.brokers:
        found += broker_problems(broker, replication)
    if deployment.brokers:
        node_ids = {broker.env.get("KAFKA_NODE_ID") for broker in deployment.brokers}
        if len(node_ids) != len(deployment.brokers):
            found.append(f"{deployment.name}: brokers share node ids {sorted(map(str, node_ids))}")
        if any(factor > len(deployment.brokers) for factor, _ in replication):
            found.append(f"{deployment.name}: replication {replication} on {len(deployment.brokers)} broker(s)")
    return found


def container_problems(deployment: Deployment, container: Container, settings: Settings, production: bool) -> list[str]:
    where, found = container.where, []
    if production and (settings.replication_factor, settings.min_insync_replicas) != (3, 2):
        found.append(
            f"{where}: replication {settings.replication_factor}, min ISR {settings.min_insync_replicas}; "
            "production needs 3 and 2"
        )
    for name, spec in planned_topics(settings):
        config = topic_config(settings, spec)
        if production and config.get("min.insync.replicas") != "2":
            found.append(f"{where}: topic {name} would be created without min.insync.replicas=2")
        if settings.replication_factor > 1 and config.get("unclean.leader.election.enable") != "false":
            found.append(f"{where}: topic {name} would allow unclean leader election")
    if producer_options(settings) != {"acks": "all", "enable_idempotence": True}:
        found.append(f"{where}: producers {producer_options(settings)}, not acks=all and idempotent (Apache Kafka)")
    if not container.non_root:
        found.append(f"{where}: may run as root")
    for name in ("policy_file", "calendar_file", "policy_history_dir", "ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        path = getattr(settings, name)
        if path is not None and not mounted(container, Path(path), is_directory=name.endswith("_dir")):
            found.append(f"{where}: COMPLAINTFLOW_{name.upper()}={path} is on no mount that holds it")
    if container.is_worker:
        required = {"healthcheck"} if deployment.platform == "compose" else {"liveness", "readiness"}
        for kind in sorted(required):
            # liveness asks only "does the worker answer?": a broker outage must not restart workers
            path = "/healthz?check=live" if kind == "liveness" else "/healthz"
            if container.probes.get(kind) != (path, settings.web_port):
                found.append(f"{where}: {kind} probe {container.probes.get(kind)}, not GET {path}:{settings.web_port}")
        if settings.web_host != "0.0.0.0":
            found.append(f"{where}: web_host {settings.web_host}: probes and the Service cannot reach it")
        if not settings.store.startswith("rocksdb://"):
            found.append(f"{where}: store {settings.store}: a restart would rebuild every table from its changelog")
        data = container.mounts.get(settings.data_dir)
        if data is None or data.kind != "persistent":
            found.append(f"{where}: data_dir {settings.data_dir} is not on a persistent volume")
        if production and container.scraped != (settings.web_port, "/metrics"):
            found.append(f"{where}: Prometheus scrapes {container.scraped}, not /metrics:{settings.web_port}")
    return found


def mounted(container: Container, path: Path, *, is_directory: bool) -> bool:
    for target, mount in container.mounts.items():
        if is_directory and path == Path(target):
            return True
        if path.parent == Path(target):
            return mount.files is None or path.name in mount.files
    return False


def broker_problems(broker: Container, replication: set[tuple[int, int | None]]) -> list[str]:
    where, env, found = broker.where, broker.env, []
    if not broker.non_root:
        found.append(f"{where}: may run as root")
    if env.get("KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE") != "false":
        found.append(f"{where}: unclean leader election is not off")
    for factor, min_insync in replication:
        expected = {
            "KAFKA_DEFAULT_REPLICATION_FACTOR": str(factor),
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": str(factor),
            "KAFKA_MIN_INSYNC_REPLICAS": str(min_insync or 1),
        }
        for name, value in expected.items():
            if env.get(name) != value:
                found.append(f"{where}: {name}={env.get(name)}, the topics say {value}")
    return found


DEPLOYMENTS = sorted(PRODUCTION | LAPTOP)


def test_every_compose_file_and_overlay_is_checked() -> None:
    on_disk = {path.name for path in COMPOSE.glob("compose*.yaml")} | {
        str(path.parent.relative_to(DEPLOY)) for path in KUSTOMIZE.rglob("kustomization.yaml")
    }
    assert on_disk == set(DEPLOYMENTS)


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_the_deployment_keeps_every_invariant(name: str) -> None:
    assert problems(load(name)) == []


@pytest.mark.parametrize("name", ["compose.yaml", "k8s/overlays/production"])
def test_production_runs_several_workers_on_three_replicas(name: str) -> None:
    deployment = load(name)
    assert sum(worker.replicas for worker in deployment.workers) >= 2
    assert {settings_of(c).replication_factor for c in deployment.containers} == {3}


def test_the_production_compose_runs_three_brokers_and_creates_the_topics_once() -> None:
    deployment = load("compose.yaml")
    assert len(deployment.brokers) == 3
    assert [c.command for c in deployment.containers if not c.is_worker] == [["topics"]]


def test_production_on_kubernetes_reaches_kafka_over_sasl_ssl_with_scram() -> None:
    (worker,) = load("k8s/overlays/production").workers
    settings = settings_of(worker)
    assert (settings.security_protocol, settings.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert worker.mounts[str(settings.ssl_cafile.parent)].kind == "secret"  # type: ignore[union-attr]


def test_the_policy_configmap_holds_the_shipped_policy_and_calendar() -> None:
    (policy,) = [d for d in kustomize(KUSTOMIZE / "base") if d["metadata"]["name"] == "complaintflow-policy"]
    assert policy["data"]["policy.toml"] == SHIPPED_POLICY.read_text(encoding="utf-8")
    assert policy["data"]["calendar-cn.toml"] == SHIPPED_CALENDAR.read_text(encoding="utf-8")


def test_the_example_secrets_are_settings_the_workers_accept() -> None:
    lines = (COMPOSE / "secrets.env.example").read_text(encoding="utf-8").splitlines()
    example = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert set(example) <= KNOWN
    worker = load("compose.yaml").workers[0]
    with environment({**worker.env, **example}):
        assert set(Settings().channel_tokens) == {"hotline", "web"}


def test_the_image_is_slim_runs_the_worker_as_a_user_and_knows_its_settings() -> None:
    instructions = dockerfile_instructions(ROOT / "Dockerfile")
    bases = [arguments.split()[0] for keyword, arguments in instructions if keyword == "FROM"]
    assert bases and all(base.endswith("-slim") for base in bases), bases
    user = [arguments for keyword, arguments in instructions if keyword == "USER"][-1]
    assert user.split(":")[0].isdigit() and int(user.split(":")[0]) != 0, user
    assert json.loads(dict(instructions)["ENTRYPOINT"]) == ["complaintflow"]
    assert json.loads(dict(instructions)["CMD"]) == ["worker"]
    installs = [arguments for keyword, arguments in instructions if keyword == "RUN" and "pip install" in arguments]
    assert installs and not any("[dev]" in install for install in installs)
    variables = {
        pair.split("=", 1)[0] for keyword, arguments in instructions if keyword == "ENV" for pair in arguments.split()
    }
    assert {name for name in variables if is_ours(name)} <= KNOWN
    assert "/healthz" in dict(instructions)["HEALTHCHECK"]


def test_everything_the_image_copies_from_the_repository_is_in_its_build_context() -> None:
    """.dockerignore sends Docker only what `pip install .` needs; a file the Dockerfile copies
    that it leaves out fails the build (setup.py did, from the compiled core until the twentieth
    session: the image build is not run where there is no Docker engine)."""
    instructions = dockerfile_instructions(ROOT / "Dockerfile")
    copies = [arguments.split() for keyword, arguments in instructions if keyword == "COPY"]
    sources = [source for words in copies if not words[0].startswith("--from=") for source in words[:-1]]
    assert "setup.py" in sources and "events" in sources, sources

    assert [source for source in sources if not in_build_context(source, ROOT / ".dockerignore")] == []


# The checks can fail: each breaks one invariant in a copy and expects `problems` to say so.


def compose_service(name: str, service: str, change: Callable[[dict[str, Any]], None]) -> Deployment:
    spec = yaml.safe_load((COMPOSE / name).read_text(encoding="utf-8"))
    spec["services"][service] = copy.deepcopy(spec["services"][service])  # anchors share objects
    change(spec["services"][service])
    return from_compose(name, spec, COMPOSE)


def overlay(name: str, kind: str, resource: str, change: Callable[[dict[str, Any]], None]) -> Deployment:
    documents = kustomize(DEPLOY / name)
    change(next(d for d in documents if d["kind"] == kind and d["metadata"]["name"] == resource))
    return from_kubernetes(name, documents)


def set_env(name: str, value: str) -> Callable[[dict[str, Any]], None]:
    return lambda service: service.__setitem__("environment", {**service["environment"], name: value})


def set_config(name: str, value: str) -> Callable[[dict[str, Any]], None]:
    return lambda config: config["data"].__setitem__(name, value)


def worker_container(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda statefulset: change(statefulset["spec"]["template"]["spec"]["containers"][0])


BROKEN: dict[str, tuple[Callable[[], Deployment], str]] = {
    "replication 2": (
        lambda: compose_service("compose.yaml", "worker-2", set_env("COMPLAINTFLOW_REPLICATION_FACTOR", "2")),
        "replication 2, min ISR 2; production needs 3 and 2",
    ),
    "min ISR unset": (
        lambda: overlay(
            "k8s/overlays/production",
            "ConfigMap",
            "complaintflow-config",
            lambda config: config["data"].pop("COMPLAINTFLOW_MIN_INSYNC_REPLICAS"),
        ),
        "without min.insync.replicas=2",
    ),
    "broker allows unclean election": (
        lambda: compose_service("compose.yaml", "kafka-2", set_env("KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE", "true")),
        "kafka-2: unclean leader election is not off",
    ),
    "broker default ISR 1": (
        lambda: compose_service("compose.yaml", "kafka-3", set_env("KAFKA_MIN_INSYNC_REPLICAS", "1")),
        "KAFKA_MIN_INSYNC_REPLICAS=1, the topics say 2",
    ),
    "not idempotent": (
        lambda: overlay(
            "k8s/base", "ConfigMap", "complaintflow-config", set_config("COMPLAINTFLOW_PRODUCER_IDEMPOTENCE", "false")
        ),
        "not acks=all and idempotent",
    ),
    "root in compose": (
        lambda: compose_service("compose.single.yaml", "worker", lambda service: service.__setitem__("user", "0")),
        "worker: may run as root",
    ),
    "root on kubernetes": (
        lambda: overlay(
            "k8s/overlays/production",
            "StatefulSet",
            "complaintflow-worker",
            lambda s: s["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot"),
        ),
        "may run as root",
    ),
    "no readiness probe": (
        lambda: overlay(
            "k8s/base",
            "StatefulSet",
            "complaintflow-worker",
            worker_container(lambda container: container.pop("readinessProbe")),
        ),
        "readiness probe None, not GET /healthz:6066",
    ),
    "probe on another port": (
        lambda: compose_service("compose.yaml", "worker-1", set_env("COMPLAINTFLOW_WEB_PORT", "7000")),
        "healthcheck probe ('/healthz', 6066), not GET /healthz:7000",
    ),
    "partition counts differ": (
        lambda: compose_service("compose.yaml", "topics", set_env("COMPLAINTFLOW_PARTITIONS", "6")),
        "partition counts differ between containers: [6, 12]",
    ),
    "more workers than partitions": (
        lambda: overlay(
            "k8s/overlays/laptop", "StatefulSet", "complaintflow-worker", lambda s: s["spec"].__setitem__("replicas", 5)
        ),
        "5 workers, only 4 partitions to share",
    ),
    "unknown variable": (
        lambda: overlay(
            "k8s/overlays/laptop", "ConfigMap", "complaintflow-config", set_config("COMPLAINTFLOW_PARTITION", "4")
        ),
        "['COMPLAINTFLOW_PARTITION'] are not settings",
    ),
    "tables in memory": (
        lambda: compose_service("compose.single.yaml", "worker", set_env("COMPLAINTFLOW_STORE", "memory://")),
        "a restart would rebuild every table",
    ),
    "tables on the container's own disk": (
        lambda: compose_service(
            "compose.yaml", "worker-1", lambda service: service.__setitem__("volumes", service["volumes"][:1])
        ),
        "data_dir /var/lib/complaintflow is not on a persistent volume",
    ),
    "policy file not mounted": (
        lambda: overlay(
            "k8s/base",
            "ConfigMap",
            "complaintflow-config",
            set_config("COMPLAINTFLOW_POLICY_FILE", "/etc/complaintflow/policy/policy-2027.toml"),
        ),
        "COMPLAINTFLOW_POLICY_FILE=/etc/complaintflow/policy/policy-2027.toml is on no mount",
    ),
    "a worker Prometheus misses": (
        lambda: compose_service("compose.yaml", "worker-2", set_env("COMPLAINTFLOW_WEB_PORT", "6068")),
        "Prometheus scrapes None",
    ),
    "Service to a port the pods lack": (
        lambda: overlay(
            "k8s/base",
            "Service",
            "complaintflow-web",
            lambda service: service["spec"]["ports"][0].__setitem__("targetPort", "web"),
        ),
        "Service complaintflow-web: no container port web",
    ),
    "no disruption budget": (
        lambda: overlay(
            "k8s/base",
            "PodDisruptionBudget",
            "complaintflow-worker",
            lambda pdb: pdb["spec"]["selector"].__setitem__("matchLabels", {"app": "other"}),
        ),
        "0 PodDisruptionBudgets, not 1",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_invariant_is_named(case: str) -> None:
    build, expected = BROKEN[case]
    found = problems(build())
    assert any(expected in problem for problem in found), found


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("name", sorted(name for name in DEPLOYMENTS if name.startswith("k8s/")))
def test_the_renderer_agrees_with_kustomize(name: str) -> None:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / name)], check=True, capture_output=True, text=True, timeout=60
    ).stdout

    def by_name(documents: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(d["kind"], d["metadata"]["name"]): d for d in documents}

    assert by_name(kustomize(DEPLOY / name)) == by_name([d for d in yaml.safe_load_all(rendered) if d])


def docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not docker_engine(), reason="no Docker engine here: the file checks above still run")
def test_the_image_builds_and_runs_as_a_user() -> None:
    subprocess.run(["docker", "build", "-t", "complaintflow:test", str(ROOT)], check=True, timeout=900)
    uid = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "id", "complaintflow:test", "-u"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert uid.stdout.strip() != "0"
    usage = subprocess.run(
        ["docker", "run", "--rm", "complaintflow:test", "--help"], check=True, capture_output=True, text=True
    )
    assert "worker" in usage.stdout
