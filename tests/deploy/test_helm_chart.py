"""Structural checks of deploy/helm/samenloop that need no cluster and no helm binary.

Nothing here renders the templates (there is no helm binary on this machine): the checks read
values, schema and template text. Where helm exists, also run `helm lint` and `helm template`
(deploy/helm/samenloop/README.md says how).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "samenloop"
TEMPLATES = [*sorted((CHART / "templates").glob("*.yaml")), CHART / "templates" / "_helpers.tpl"]
VALUES: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
COMPONENTS = ("matcher", "pseudonymiser", "gateway", "inbox")

# Every apiVersion/kind a template may produce, with the Kubernetes version it is GA since.
KNOWN_KINDS = {
    ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("v1", "PersistentVolumeClaim"),
    ("apps/v1", "Deployment"), ("batch/v1", "Job"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),   # GA in 1.23
    ("policy/v1", "PodDisruptionBudget"),            # GA in 1.21
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("cert-manager.io/v1", "Certificate"),
}


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _merged(*overlays: dict[str, Any]) -> dict[str, Any]:
    """values.yaml with overlays deep-merged on top, as helm -f does."""
    def merge(base: Any, top: Any) -> Any:
        if isinstance(base, dict) and isinstance(top, dict):
            out = dict(base)
            for key, value in top.items():
                out[key] = merge(base.get(key), value) if key in base else value
            return out
        return copy.deepcopy(top)
    result: dict[str, Any] = copy.deepcopy(VALUES)
    for overlay in overlays:
        result = merge(result, overlay)
    return result


# ---- values and schema ------------------------------------------------------------------


def test_chart_metadata() -> None:
    chart = yaml.safe_load(_text(CHART / "Chart.yaml"))
    assert chart["apiVersion"] == "v2" and chart["name"] == "samenloop"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    import tomllib
    project = tomllib.loads(_text(CHART.parents[2] / "pyproject.toml"))["project"]
    assert chart["appVersion"] == project["version"], "appVersion follows the package version"


def test_schema_is_valid_and_the_default_values_satisfy_it() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    VALIDATOR.validate(VALUES)


def test_every_component_is_off_by_default() -> None:
    assert {c: VALUES[c]["enabled"] for c in COMPONENTS} == dict.fromkeys(COMPONENTS, False)


@pytest.mark.parametrize("example", sorted((CHART / "examples").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_the_readme_examples_are_valid_values(example: Path) -> None:
    overlay = yaml.safe_load(_text(example))
    # What the README's --set-file adds.
    for component in ("matcher", "gateway"):
        if overlay.get(component, {}).get("enabled"):
            overlay[component]["officerTrust"] = "officers: []\n"
    if overlay.get("gateway", {}).get("enabled"):
        overlay["gateway"]["matcher"]["publicKey"] = "(signing.key.pub)"
        overlay["gateway"]["pseudonymiser"]["publicKey"] = "(voprf.key.pub)"
    VALIDATOR.validate(_merged(overlay))
    readme = _text(CHART / "README.md")
    assert f"examples/{example.name}" in readme


# An enabled gateway with every required value; each REFUSED row below takes one away.
_GATEWAY: dict[str, Any] = {
    "enabled": True, "organisation": "woonstad-rotterdam", "kind": "housing",
    "officerTrust": "x", "matcher": {"publicKey": "k"},
    "pseudonymiser": {"keyId": "voprf:0123456789abcdef"}}


def test_a_complete_gateway_is_accepted() -> None:
    """The oracle of the gateway rows in REFUSED: with everything set, the values validate."""
    VALIDATOR.validate(_merged({"gateway": _GATEWAY}))


# Each overlay must be refused: weaker security, an impossible topology, a misspelt key.
REFUSED = {
    "root allowed": {"podSecurityContext": {"runAsNonRoot": False}},
    "container may run as root": {"containerSecurityContext": {"runAsNonRoot": False}},
    "writable root filesystem": {"containerSecurityContext": {"readOnlyRootFilesystem": False}},
    "privilege escalation": {"containerSecurityContext": {"allowPrivilegeEscalation": True}},
    "capabilities kept": {"containerSecurityContext": {"capabilities": {"drop": ["NET_RAW"]}}},
    "capability added": {"containerSecurityContext": {"capabilities": {"drop": ["ALL"],
                                                                       "add": ["NET_ADMIN"]}}},
    "seccomp off": {"podSecurityContext": {"seccompProfile": {"type": "Unconfined"}}},
    "privileged": {"containerSecurityContext": {"privileged": True}},
    "two pseudonymisers (quota doubled)": {"pseudonymiser": {"replicas": 2}},
    "misspelt key": {"matcher": {"replica": 3}},
    "matcher without database secret": {"matcher": {"enabled": True, "officerTrust": "x"}},
    "gateway without organisation": {"gateway": {"enabled": True, "officerTrust": "x"}},
    "gateway without kind": {"gateway": {**_GATEWAY, "kind": ""}},
    "gateway of an unknown kind": {"gateway": {**_GATEWAY, "kind": "school"}},
    "gateway without the matcher's key": {"gateway": {
        **_GATEWAY, "matcher": {**_GATEWAY["matcher"], "publicKey": ""}}},
    "gateway without a pinned pseudonymiser key": {"gateway": {
        **_GATEWAY, "pseudonymiser": {**_GATEWAY["pseudonymiser"], "keyId": ""}}},
    "gateway with a malformed key id": {"gateway": {
        **_GATEWAY, "pseudonymiser": {**_GATEWAY["pseudonymiser"], "keyId": "voprf:xyz"}}},
    "no resource limits": {"matcher": {"resources": {"requests": {"cpu": "1"}}}},
    "bad CIDR": {"matcher": {"officerCidrs": ["10.0.0.0"]}},
    "health port out of range": {"health": {"port": 70000}},
    "unknown migrate hook": {"matcher": {"migrate": {"hook": "post-delete"}}},
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_the_schema_refuses(name: str) -> None:
    overlay = REFUSED[name]
    candidate = _merged(overlay)
    if name == "no resource limits":
        candidate["matcher"]["resources"] = overlay["matcher"]["resources"]
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(candidate)


# ---- templates against values and schema ------------------------------------------------

_VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def _references() -> set[tuple[str, ...]]:
    refs = set()
    for path in TEMPLATES:
        for match in _VALUES_REF.finditer(_text(path)):
            refs.add(tuple(match.group(1).strip(".").split(".")))
    return refs


def _schema_node(path: tuple[str, ...]) -> dict[str, Any] | None:
    node: dict[str, Any] = SCHEMA
    for part in path:
        props = node.get("properties", {})
        if part in props:
            node = props[part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
    return node


def test_templates_reference_values() -> None:
    refs = _references()
    assert len(refs) > 60, "the reference scan found too little; is the regex right?"
    for component in COMPONENTS:
        assert (component, "enabled") in refs


@pytest.mark.parametrize("path", sorted(_references()), ids=".".join)
def test_every_referenced_value_is_defined_in_values_and_schema(path: tuple[str, ...]) -> None:
    node: Any = VALUES
    for part in path:
        assert isinstance(node, dict) and part in node, \
            f".Values.{'.'.join(path)} is used in a template but not defined in values.yaml"
        node = node[part]
    assert _schema_node(path) is not None, \
        f".Values.{'.'.join(path)} is used in a template but not described in values.schema.json"


def _schema_leaves(node: dict[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    props = node.get("properties")
    if not props:
        return {prefix}
    out: set[tuple[str, ...]] = set()
    for key, child in props.items():
        out |= _schema_leaves(child, (*prefix, key))
    return out


def test_every_value_the_schema_describes_is_used_by_a_template() -> None:
    """The converse: no dead settings that an operator would set in vain."""
    text = "\n".join(_text(p) for p in TEMPLATES)
    unused = [".".join(leaf) for leaf in _schema_leaves(SCHEMA)
              if f".Values.{'.'.join(leaf)}" not in text
              and not any(f".Values.{'.'.join(leaf[:i])}" + end in text
                          for i in range(1, len(leaf)) for end in (" ", "}", ")", "\n", " |"))]
    assert not unused, f"described in the schema but used by no template: {unused}"


# ---- template text ----------------------------------------------------------------------

_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.DOTALL)
_OPENERS = ("if ", "range ", "with ", "define ", "block ")


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_blocks_are_balanced(path: Path) -> None:
    text = _text(path)
    assert text.count("{{") == text.count("}}"), "unbalanced {{ }}"
    depth = 0
    for action in _ACTION.findall(text):
        if action.startswith("/*"):
            continue
        if action.startswith(_OPENERS):
            depth += 1
        elif action == "end":
            depth -= 1
            assert depth >= 0, "an {{ end }} without its block"
    assert depth == 0, "a block is not closed"


def test_every_included_template_is_defined() -> None:
    text = "\n".join(_text(p) for p in TEMPLATES)
    defined = set(re.findall(r'{{-?\s*define\s+"([^"]+)"', text))
    included = set(re.findall(r'include\s+"([^"]+)"', text))
    assert included <= defined, f"included but not defined: {sorted(included - defined)}"


def _documents(path: Path) -> list[str]:
    return [d for d in re.split(r"^---\s*$", _text(path), flags=re.MULTILINE) if d.strip()]


def _kinds(document: str) -> list[tuple[str, str]]:
    versions = re.findall(r"^apiVersion:\s*(\S+)", document, re.MULTILINE)
    kinds = re.findall(r"^kind:\s*(\S+)", document, re.MULTILINE)
    assert len(versions) == len(kinds), "apiVersion and kind come in pairs"
    return list(zip(versions, kinds, strict=True))


def test_every_template_produces_known_kinds() -> None:
    found = set()
    for path in TEMPLATES:
        for document in _documents(path):
            for pair in _kinds(document):
                assert pair in KNOWN_KINDS, f"{path.name}: unknown {pair}"
                found.add(pair)
    assert found == KNOWN_KINDS, f"in the table but produced by no template: {KNOWN_KINDS - found}"


def _workloads() -> list[tuple[str, str]]:
    out = []
    for path in TEMPLATES:
        for document in _documents(path):
            if any(kind in ("Deployment", "Job") for _v, kind in _kinds(document)):
                out.append((path.name, document))
    return out


def test_there_is_a_workload_per_component_and_the_migration_job() -> None:
    names = {m for _f, d in _workloads()
             for m in re.findall(r"^  name: {{ \$fullname }}-([a-z-]+)$", d, re.MULTILINE)}
    assert names == {*COMPONENTS, "matcher-migrate"}


@pytest.mark.parametrize("workload", _workloads(), ids=lambda w: w[0])
def test_every_workload_has_security_contexts_probes_and_resources(
    workload: tuple[str, str],
) -> None:
    _name, document = workload
    helpers = _text(CHART / "templates" / "_helpers.tpl")
    assert document.count('include "samenloop.podSecurityContext"') == 1
    containers = len(re.findall(r"^\s+- name: [a-z-]+\n\s+image:", document, re.MULTILINE))
    assert containers >= 1
    assert document.count('include "samenloop.containerSecurityContext"') == containers
    # The init container that installs the secrets has its own security context.
    assert 'include "samenloop.secretsInit"' in document
    init = helpers.split('define "samenloop.secretsInit"')[1].split("{{- end -}}")[0]
    assert 'include "samenloop.containerSecurityContext"' in init and "resources:" in init
    assert "automountServiceAccountToken: false" in document
    assert document.count("resources:") == containers
    if "kind: Deployment" in document:
        assert 'include "samenloop.probes"' in document
        assert "name: health, containerPort: {{ .Values.health.port }}" in document
    for mount in ("/tmp", "/run/samenloop"):
        assert f"mountPath: {mount}" in document  # writable paths are volumes


def test_the_security_context_values_are_the_strict_ones() -> None:
    pod, container = VALUES["podSecurityContext"], VALUES["containerSecurityContext"]
    assert pod["runAsNonRoot"] is True and pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container == {
        "runAsNonRoot": True, "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True, "privileged": False,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
    }
    dockerfile = _text(CHART.parents[2] / "Dockerfile")
    assert f"USER {pod['runAsUser']}:{pod['runAsGroup']}" in dockerfile, \
        "the chart's uid/gid are the image's"


def test_probes_use_the_plaintext_health_port() -> None:
    helpers = _text(CHART / "templates" / "_helpers.tpl")
    probes = helpers.split('define "samenloop.probes"')[1].split("{{- end -}}")[0]
    assert "livenessProbe:\n  httpGet: {path: /healthz, port: health}" in probes
    assert "readinessProbe:\n  httpGet: {path: /readyz, port: health}" in probes
    managed = helpers.split('define "samenloop.managedConfig"')[1].split("{{- end -}}")[0]
    assert 'bind: {{ printf "0.0.0.0:%v" .Values.health.port | quote }}' in managed


def test_the_migration_job_is_a_helm_hook_running_matcher_migrate() -> None:
    job = next(d for f, d in _workloads() if f == "matcher-migrate.yaml")
    assert 'helm.sh/hook: {{ .Values.matcher.migrate.hook | quote }}' in job
    assert 'args: ["matcher", "migrate", "--config", "/config/matcher.yaml"]' in job
    assert VALUES["matcher"]["migrate"]["hook"] == "pre-install,pre-upgrade"
    assert "restartPolicy: Never" in job


def test_the_database_url_comes_from_a_secret() -> None:
    for name in ("matcher.yaml", "matcher-migrate.yaml"):
        text = _text(CHART / "templates" / name)
        assert re.search(r"- name: SAMENLOOP_MATCHER__DATABASE_URL\n\s+valueFrom:\n\s+"
                         r"secretKeyRef:", text), name
    assert "database_url" not in json.dumps(VALUES["matcher"]["config"])


def _policy(component: str) -> str:
    """The NetworkPolicy document named <release>-<component>."""
    documents = _documents(CHART / "templates" / "networkpolicies.yaml")
    found = [d for d in documents if f"  name: {{{{ $fullname }}}}-{component}\n" in d]
    assert len(found) == 1, component
    return found[0]


def _peers(block: str) -> set[str]:
    return set(re.findall(r"app\.kubernetes\.io/component: ([a-z-]+)}", block))


def test_network_policies_allow_only_the_designed_links() -> None:
    matcher = _policy("matcher")
    ingress, egress = matcher.split("  egress:")[0], matcher.split("  egress:")[1]
    assert _peers(ingress.split("ingress:")[1]) == {"gateway", "inbox"}
    assert ".Values.matcher.officerCidrs" in ingress and ".Values.matcher.gatewayCidrs" in ingress
    assert _peers(egress) == set()
    assert ".Values.matcher.database.port" in egress
    gateway = _policy("gateway")
    assert _peers(gateway.split("  egress:")[1]) == {"matcher", "pseudonymiser"}
    assert "from:" not in gateway.split("  egress:")[0].replace(
        'include "samenloop.metricsIngress"', "")
    assert _peers(_policy("pseudonymiser").split("  egress:")[0]) == {"gateway"}
    inbox = _policy("inbox")
    assert _peers(inbox.split("  egress:")[1]) == {"matcher"}
    for component in COMPONENTS:
        block = _policy(component)
        assert 'policyTypes: ["Ingress", "Egress"]' in block, component


def test_matcher_has_a_disruption_budget_and_an_autoscaler() -> None:
    text = _text(CHART / "templates" / "matcher-scaling.yaml")
    assert "kind: HorizontalPodAutoscaler" in text and "kind: PodDisruptionBudget" in text
    assert VALUES["matcher"]["autoscaling"]["enabled"] is True
    assert VALUES["matcher"]["podDisruptionBudget"]["minAvailable"] >= 1
    assert VALUES["matcher"]["autoscaling"]["minReplicas"] > \
        VALUES["matcher"]["podDisruptionBudget"]["minAvailable"], \
        "with minReplicas == minAvailable a node drain could never evict a matcher pod"


# ---- what the chart writes is what the services read ------------------------------------


def _managed_keys(helper: str) -> set[str]:
    """Top-level keys a template sets in a service configuration (`set $managed "KEY"`)."""
    text = "\n".join(_text(p) for p in TEMPLATES)
    base = _text(CHART / "templates" / "_helpers.tpl").split(
        'define "samenloop.managedConfig"')[1].split("{{- end -}}")[0]
    keys = set(re.findall(r"^([a-z_]+):", base, re.MULTILINE))
    if helper == "matcher":
        block = text.split('define "samenloop.matcherConfig"')[1].split("{{- end -}}")[0]
    else:
        block = _text(CHART / "templates" / f"{helper}.yaml")
    return keys | set(re.findall(r'set \$managed "([a-z_]+)"', block))


def test_the_keys_the_chart_sets_are_settings_of_the_service() -> None:
    from services.common.settings import HealthSettings, TlsFiles
    from services.matcher.config import MatcherConfig
    from services.pseudonymiser.config import PseudonymiserConfig
    from services.wijkteam.settings import InboxSettings

    for component, model in (("matcher", MatcherConfig), ("pseudonymiser", PseudonymiserConfig),
                             ("inbox", InboxSettings)):
        keys = _managed_keys(component)
        assert {"bind", "health", "tls"} <= keys
        assert keys <= set(model.model_fields), f"{component}: {keys - set(model.model_fields)}"
    from services.partner_gateway.settings import GatewaySettings

    keys = _managed_keys("gateway")
    assert {"health", "tls"} <= keys
    assert keys <= set(GatewaySettings.model_fields), keys - set(GatewaySettings.model_fields)
    helpers = _text(CHART / "templates" / "_helpers.tpl")
    managed = helpers.split('define "samenloop.managedConfig"')[1].split("{{- end -}}")[0]
    assert set(re.findall(r"^  ([a-z_]+):", managed, re.MULTILINE)) == \
        set(HealthSettings.model_fields) | set(TlsFiles.model_fields)


def test_what_a_gateway_pins_is_an_explicit_value_not_free_config() -> None:
    """The partner kind and the keys a gateway verifies others with are chart values with a
    schema (issue 16): a typo cannot hide in `gateway.config`, and the schema refuses an
    enabled gateway without them (REFUSED above)."""
    managed = _managed_keys("gateway")
    assert {"kind", "matcher_public_key", "pseudonymiser_key_id",
            "pseudonymiser_public_key"} <= managed
    template = _text(CHART / "templates" / "gateway.yaml")
    for value, key in ((".Values.gateway.kind", "kind"),
                       (".Values.gateway.pseudonymiser.keyId", "pseudonymiser_key_id")):
        assert re.search(rf'set \$managed "{key}" \(required "[^"]+" {re.escape(value)}\)',
                         template), f"{key} must come from {value}, required"
    # The key files the settings name are written into the gateway's ConfigMap from values.
    assert "matcher-signing.pub: |" in template and ".Values.gateway.matcher.publicKey" in template
    assert "pseudonymiser-voprf.pub: |" in template
    kinds = _schema_node(("gateway", "kind"))
    assert kinds is not None and set(kinds["enum"]) - {""} == {
        "housing", "police", "mental_health", "municipality"}


@pytest.mark.parametrize("component", ["matcher", "pseudonymiser", "gateway"])
def test_the_example_settings_are_settings_of_the_service(component: str) -> None:
    from services.matcher.config import MatcherConfig
    from services.partner_gateway.settings import GatewaySettings
    from services.pseudonymiser.config import PseudonymiserConfig

    model = {"matcher": MatcherConfig, "pseudonymiser": PseudonymiserConfig,
             "gateway": GatewaySettings}[component]
    file = "partner-gateway.yaml" if component == "gateway" else "municipality-central.yaml"
    example = yaml.safe_load(_text(CHART / "examples" / file))
    keys = set(example[component]["config"])
    assert keys <= set(model.model_fields), keys - set(model.model_fields)
    assert not keys & _managed_keys(component), "the chart sets these itself"
