"""deploy/ read the way Docker Compose and Kubernetes would read it, down to what each container gets.

`kustomize` renders a Kustomize directory with the few features deploy/k8s uses (resources,
namespace, images, strategic-merge patches by kind and name); it refuses any other feature rather
than misread it, and tests/unit/test_deploy.py compares it with `kubectl kustomize` where kubectl is
installed. `from_compose` and `from_kubernetes` reduce either platform to the same `Deployment`:
the Kafka brokers it runs, and for each complaintflow container the environment it ends up with
(ConfigMaps and Secrets resolved), its probes, its mounts, its user, whether Prometheus scrapes it.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUSTOMIZE_FEATURES = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
}
"""Lists a strategic-merge patch merges item by item (Kubernetes' patchMergeKey); any other list is replaced."""
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}
WORKLOADS = {"StatefulSet", "Deployment", "DaemonSet", "Job"}
FROM_A_SECRET = {"COMPLAINTFLOW_CHANNEL_TOKENS": "{}", "COMPLAINTFLOW_DASHBOARD_TOKENS": "[]"}
"""What stands in for a value from a Secret the deployment does not ship (created out of band)."""

MountKind = Literal["persistent", "bind", "configMap", "secret", "emptyDir"]


class UnsupportedKustomization(AssertionError):
    """deploy/k8s uses a Kustomize feature this renderer does not implement."""


def load_all(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text(encoding="utf-8")) if document]


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """The manifests `kubectl kustomize directory` prints, for the features deploy/k8s uses."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    if unknown := set(spec) - KUSTOMIZE_FEATURES:
        raise UnsupportedKustomization(f"{directory}: {sorted(unknown)}; teach tests/deploy.py, or keep it simple")
    documents: list[dict[str, Any]] = []
    for resource in spec.get("resources", []):
        path = (directory / resource).resolve()
        documents += kustomize(path) if path.is_dir() else load_all(path)
    for patch_entry in spec.get("patches", []):
        if set(patch_entry) != {"path"}:
            raise UnsupportedKustomization(f"{directory}: patches by target or inline: {patch_entry}")
        for patch in load_all(directory / patch_entry["path"]):
            _strategic_merge(_find(documents, patch["kind"], patch["metadata"]["name"]), patch)
    for image in spec.get("images", []):
        for container in _containers(documents):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
    if "namespace" in spec:
        for document in documents:
            if document["kind"] not in CLUSTER_SCOPED:
                document["metadata"]["namespace"] = spec["namespace"]
    return documents


def _find(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for document in documents:
        if document["kind"] == kind and document["metadata"]["name"] == name:
            return document
    raise UnsupportedKustomization(f"a patch targets {kind} {name}, which no resource defines")


def _strategic_merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None or (isinstance(value, str) and value.startswith("$patch")):
            raise UnsupportedKustomization(f"deletions and $patch directives ({key}) are not supported")
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _strategic_merge(target[key], value)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(target.get(key), list):
            target[key] = _merge_list(target[key], value, MERGE_KEYS[key])
        else:
            target[key] = copy.deepcopy(value)


def _merge_list(target: list[dict[str, Any]], patch: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Items of the patch merge into the item with the same key; new ones come first, as kustomize puts them."""
    existing = {item[key]: item for item in target}
    added = []
    for item in patch:
        if item[key] in existing:
            _strategic_merge(existing[item[key]], item)
        else:
            added.append(copy.deepcopy(item))
    return added + target


def _containers(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for d in documents if d["kind"] in WORKLOADS for c in d["spec"]["template"]["spec"]["containers"]]


@dataclass(frozen=True)
class Mount:
    kind: MountKind
    files: frozenset[str] | None = None
    """The file names it holds, when the deployment says (a ConfigMap's keys, a bound directory)."""


@dataclass
class Container:
    where: str
    image: str
    command: list[str]
    env: dict[str, str]
    probes: dict[str, tuple[str, int]] = field(default_factory=dict)
    """probe kind (liveness, readiness, startup, healthcheck) → (path, port) of its HTTP GET."""
    mounts: dict[str, Mount] = field(default_factory=dict)
    non_root: bool = False
    scraped: tuple[int, str] | None = None
    """(port, path) Prometheus scrapes, if it does."""
    replicas: int = 1

    @property
    def is_worker(self) -> bool:
        return self.command[:1] == ["worker"]


@dataclass
class Deployment:
    name: str
    platform: Literal["compose", "kubernetes"]
    containers: list[Container] = field(default_factory=list)
    """complaintflow's containers (workers and one-shot commands)."""
    brokers: list[Container] = field(default_factory=list)
    """Apache Kafka containers it runs itself; none when it uses an existing cluster."""
    unprobed: list[str] = field(default_factory=list)
    """Long-running containers with no health check at all."""
    structure: list[str] = field(default_factory=list)
    """Problems of the platform's own wiring (selectors, ports, references) found while reading it."""

    @property
    def workers(self) -> list[Container]:
        return [container for container in self.containers if container.is_worker]


def _ours(image: str) -> bool:
    """complaintflow's image, under whatever registry an overlay puts it."""
    return image.rsplit("/", 1)[-1].startswith("complaintflow:")


def _text(value: Any) -> str:
    """An environment value as the container sees it (YAML true → "true", 12 → "12")."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def from_compose(name: str, spec: dict[str, Any], directory: Path) -> Deployment:
    deployment = Deployment(name, "compose")
    scrapes = _prometheus_targets(spec, directory)
    for service_name, service in spec["services"].items():
        image = str(service.get("image", ""))
        env = {key: _text(value) for key, value in (service.get("environment") or {}).items()}
        mounts = {}
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source in (spec.get("volumes") or {}):
                mounts[target] = Mount("persistent")
            else:
                host = (directory / source).resolve()
                files = frozenset(p.name for p in host.iterdir()) if host.is_dir() else frozenset([host.name])
                mounts[target] = Mount("bind", files)
        health = " ".join(map(str, (service.get("healthcheck") or {}).get("test", [])))
        probes = {}
        if found := re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/]*)", health):
            probes["healthcheck"] = (found.group(2), int(found.group(1)))
        container = Container(
            where=f"{name}: {service_name}",
            image=image,
            command=[str(part) for part in service.get("command", ["worker"] if _ours(image) else [])],
            env=env,
            probes=probes,
            mounts=mounts,
            non_root=str(service.get("user", "")).split(":")[0] not in {"root", "0"},
        )
        port = int(env.get("COMPLAINTFLOW_WEB_PORT", 6066))
        if f"{service_name}:{port}" in scrapes:
            container.scraped = (port, scrapes[f"{service_name}:{port}"])
        if service.get("restart", "no") != "no" and not service.get("healthcheck"):
            deployment.unprobed.append(container.where)
        if _ours(image):
            deployment.containers.append(container)
        elif image.startswith("apache/kafka"):
            deployment.brokers.append(container)
    return deployment


def _prometheus_targets(spec: dict[str, Any], directory: Path) -> dict[str, str]:
    """host:port → metrics path, from the Prometheus configuration a service of the stack mounts."""
    targets: dict[str, str] = {}
    for service in spec["services"].values():
        if not str(service.get("image", "")).startswith("prom/prometheus"):
            continue
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if target.endswith("prometheus.yml"):
                config = yaml.safe_load((directory / source).read_text(encoding="utf-8"))
                for job in config["scrape_configs"]:
                    for group in job.get("static_configs", []):
                        targets.update(dict.fromkeys(group["targets"], job.get("metrics_path", "/metrics")))
    return targets


def from_kubernetes(name: str, documents: list[dict[str, Any]]) -> Deployment:
    deployment = Deployment(name, "kubernetes")
    index = {(d["kind"], d["metadata"]["name"]): d for d in documents}
    for workload in (d for d in documents if d["kind"] in WORKLOADS):
        pod = workload["spec"]["template"]
        claims = {claim["metadata"]["name"] for claim in workload["spec"].get("volumeClaimTemplates", [])}
        volumes = {volume["name"]: volume for volume in pod["spec"].get("volumes", [])}
        for raw in pod["spec"]["containers"]:
            where = f"{name}: {workload['kind']} {workload['metadata']['name']}/{raw['name']}"
            ports = {port.get("name"): port["containerPort"] for port in raw.get("ports", [])}
            container = Container(
                where=where,
                image=raw["image"],
                command=[str(part) for part in raw.get("args", ["worker"] if _ours(raw["image"]) else [])],
                env=_environment(raw, index, deployment.structure, where),
                probes=_http_probes(raw, ports),
                mounts={
                    mount["mountPath"]: _mount(mount["name"], claims, volumes, index, deployment.structure, where)
                    for mount in raw.get("volumeMounts", [])
                },
                non_root=_runs_as_non_root(pod["spec"].get("securityContext", {}), raw.get("securityContext", {})),
                replicas=workload["spec"].get("replicas", 1),
            )
            annotations = pod.get("metadata", {}).get("annotations", {})
            if annotations.get("prometheus.io/scrape") == "true":
                container.scraped = (int(annotations["prometheus.io/port"]), annotations["prometheus.io/path"])
            if workload["kind"] != "Job" and not raw.get("livenessProbe") and not raw.get("readinessProbe"):
                deployment.unprobed.append(where)
            if _ours(raw["image"]):
                deployment.containers.append(container)
            elif raw["image"].startswith("apache/kafka"):
                deployment.brokers.extend([container] * container.replicas)
        _check_selectors(workload, documents, deployment.structure)
    return deployment


def _environment(raw: dict[str, Any], index: dict[Any, Any], problems: list[str], where: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in raw.get("envFrom", []):
        if "configMapRef" in source:
            config = index.get(("ConfigMap", source["configMapRef"]["name"]))
            if config is None:
                problems.append(f"{where}: envFrom names ConfigMap {source['configMapRef']['name']}, not deployed")
                continue
            env.update({key: _text(value) for key, value in config.get("data", {}).items()})
        else:
            problems.append(f"{where}: envFrom {source}: name each variable (env) so the settings can be checked")
    for variable in raw.get("env", []):
        if "value" in variable:
            env[variable["name"]] = _text(variable["value"])
            continue
        reference = variable["valueFrom"].get("secretKeyRef") or variable["valueFrom"].get("configMapKeyRef")
        kind = "Secret" if "secretKeyRef" in variable["valueFrom"] else "ConfigMap"
        shipped = index.get((kind, reference["name"]))
        if shipped is not None:
            values = shipped.get("stringData") or shipped.get("data") or {}
            if reference["key"] not in values:
                problems.append(f"{where}: {variable['name']} reads key {reference['key']} that {kind} lacks")
            env[variable["name"]] = _text(values.get(reference["key"], ""))
        else:  # a Secret the operator creates: any valid value stands in
            env[variable["name"]] = FROM_A_SECRET.get(variable["name"], "from-a-secret")
    return env


def _http_probes(raw: dict[str, Any], ports: dict[str | None, int]) -> dict[str, tuple[str, int]]:
    probes = {}
    for kind in ("liveness", "readiness", "startup"):
        get = raw.get(f"{kind}Probe", {}).get("httpGet")
        if get:
            port = get["port"]
            probes[kind] = (get["path"], ports.get(port, -1) if isinstance(port, str) else int(port))
    return probes


def _mount(
    name: str,
    claims: set[str],
    volumes: dict[str, Any],
    index: dict[Any, Any],
    problems: list[str],
    where: str,
) -> Mount:
    if name in claims:
        return Mount("persistent")
    volume = volumes.get(name)
    if volume is None:
        problems.append(f"{where}: mounts volume {name}, which the pod does not define")
        return Mount("emptyDir")
    if "configMap" in volume:
        config = index.get(("ConfigMap", volume["configMap"]["name"]))
        if config is None:
            problems.append(f"{where}: volume {name} names ConfigMap {volume['configMap']['name']}, not deployed")
        return Mount("configMap", frozenset((config or {}).get("data") or {}))
    if "secret" in volume:
        return Mount("secret")
    return Mount("emptyDir")


def _runs_as_non_root(pod: dict[str, Any], container: dict[str, Any]) -> bool:
    merged = {**pod, **container}
    return merged.get("runAsNonRoot") is True and merged.get("runAsUser", 1) != 0


def _check_selectors(workload: dict[str, Any], documents: list[dict[str, Any]], problems: list[str]) -> None:
    """Services and disruption budgets that select this workload's pods reach a port they have."""
    labels = workload["spec"]["template"]["metadata"].get("labels", {})
    ports = {
        port.get("name") for c in workload["spec"]["template"]["spec"]["containers"] for port in c.get("ports", [])
    }
    budgets = 0
    for document in documents:
        selector = document.get("spec", {}).get("selector")
        if document["kind"] == "Service" and selector and selector.items() <= labels.items():
            for port in document["spec"]["ports"]:
                if isinstance(port.get("targetPort"), str) and port["targetPort"] not in ports:
                    problems.append(f"Service {document['metadata']['name']}: no container port {port['targetPort']}")
        if document["kind"] == "PodDisruptionBudget" and selector["matchLabels"].items() <= labels.items():
            budgets += 1
    if workload["spec"].get("replicas", 1) > 1 and budgets != 1:
        problems.append(f"{workload['kind']} {workload['metadata']['name']}: {budgets} PodDisruptionBudgets, not 1")
    if workload["kind"] == "StatefulSet" and not any(
        d["kind"] == "Service" and d["metadata"]["name"] == workload["spec"]["serviceName"] for d in documents
    ):
        problems.append(f"StatefulSet {workload['metadata']['name']}: no Service {workload['spec']['serviceName']}")


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def in_build_context(path: str, dockerignore: Path) -> bool:
    """Whether Docker sends `path` (relative to the context's root, as a Dockerfile's COPY names it)
    to the build, given `.dockerignore`: its patterns in order, the last one that matches decides,
    and `!` lets a path back in. Enough of Docker's matching for what this repository's file uses
    (names, `*`, `**/`, a directory's trailing slash)."""
    kept = True
    for line in dockerignore.read_text(encoding="utf-8").splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        keeps = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        if fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, pattern.removeprefix("**/")):
            kept = keeps
    return kept
