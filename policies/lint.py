"""Lint a policy: the JSON Schema, then semantic checks against the signal catalogue.

Every finding says what is wrong, where (field path and YAML line) and what to do. Errors block
signing and publishing; warnings are shown for the author to read. The checks (docs/policies.md
"Semantic checks" lists them with examples):

- names: unknown purposes, signal types, life domains, partner kinds, identity fields;
- the trigger: fewer than two life domains or fires on one signal; can never fire (a required
  type is excluded, or not collected under the policy's purposes; not enough life domains
  reachable; a minimum per domain for a domain no usable type bears on);
- disclosure: fields that do not exist; a mental-health partner asked for more than its
  contact person;
- the legal mode: `standing` without a standing legal basis, with a case-based (Wams) purpose or
  citation marked standing, or without an independent review;
- dates: validity in the past, or ending before it starts;
- the recipient: not a valid X25519 public key;
- blanks left from the template (`<...>`, a standalone `...`, `GM0000`): `policies.placeholders`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from crypto.errors import InvalidPublicKey
from crypto.sealing import parse_x25519_public_key
from domain.catalogue import LIFE_DOMAINS, Catalogue, PartnerKind, load_catalogue
from policies.errors import PolicyInvalid, PolicySyntaxError
from policies.fields import IDENTITY_FIELDS, MENTAL_HEALTH_ALLOWED, MENTAL_HEALTH_KIND
from policies.findings import LintFinding, Severity, format_path, has_errors
from policies.legal import CASE_BASED_STATUTE_MARKERS, MIN_DOMAINS, MIN_SIGNALS, STANDING_PURPOSES
from policies.model import Policy, PolicyMode, parse_policy
from policies.placeholders import placeholder_findings
from policies.source import SourceDocument, parse_yaml, read_policy_file

PathT = tuple[str | int, ...]


@dataclass(frozen=True)
class LintReport:
    findings: tuple[LintFinding, ...]
    policy: Policy | None
    """The parsed policy when the structure is valid (even if semantic errors remain)."""

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not has_errors(self.findings)

    @property
    def errors(self) -> tuple[LintFinding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[LintFinding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)


def lint_file(path: str | Path, *, today: date, catalogue: Catalogue | None = None) -> LintReport:
    """Lint a policy YAML file; syntax errors become findings too."""
    try:
        source = read_policy_file(path)
    except PolicySyntaxError as exc:
        return LintReport((LintFinding(Severity.ERROR, "", exc.line, exc.reason),), None)
    return lint_source(source, today=today, catalogue=catalogue)


def lint_text(text: str, *, today: date, catalogue: Catalogue | None = None) -> LintReport:
    try:
        source = parse_yaml(text)
    except PolicySyntaxError as exc:
        return LintReport((LintFinding(Severity.ERROR, "", exc.line, exc.reason),), None)
    return lint_source(source, today=today, catalogue=catalogue)


def lint_document(
    document: Mapping[str, Any], *, today: date, catalogue: Catalogue | None = None
) -> LintReport:
    """Lint a document already in JSON values (e.g. received by the matcher); no lines."""
    return lint_source(SourceDocument(dict(document), {}), today=today, catalogue=catalogue)


def lint_source(
    source: SourceDocument, *, today: date, catalogue: Catalogue | None = None
) -> LintReport:
    blanks = placeholder_findings(source)
    blank_paths = {f.path for f in blanks}
    try:
        policy = parse_policy(source.document, source)
    except PolicyInvalid as exc:
        rest = [f for f in exc.findings if f.path not in blank_paths]
        return LintReport(tuple(_ordered([*blanks, *rest])), None)
    checker = _Checker(policy, source, catalogue or load_catalogue(), today)
    checker.run()
    return LintReport(tuple(_ordered([*blanks, *checker.findings])), policy)


def _ordered(findings: Iterable[LintFinding]) -> list[LintFinding]:
    return sorted(findings, key=lambda f: (f.line or 0, f.path, f.message))


class _Checker:
    def __init__(
        self, policy: Policy, source: SourceDocument, catalogue: Catalogue, today: date
    ) -> None:
        self.p = policy
        self.doc = source.document
        self.source = source
        self.cat = catalogue
        self.today = today
        self.findings: list[LintFinding] = []

    # -- helpers ----------------------------------------------------------------------------

    def error(self, path: PathT, message: str) -> None:
        self._add(Severity.ERROR, path, message)

    def warn(self, path: PathT, message: str) -> None:
        self._add(Severity.WARNING, path, message)

    def _add(self, severity: Severity, path: PathT, message: str) -> None:
        self.findings.append(
            LintFinding(severity, format_path(path), self.source.line_of(path), message)
        )

    def _list_paths(self, path: PathT) -> Iterable[tuple[PathT, Any]]:
        node: Any = self.doc
        for part in path:
            if isinstance(node, Mapping) and isinstance(part, str):
                node = node.get(part)
            else:
                return
        if isinstance(node, list):
            for i, v in enumerate(node):
                yield (*path, i), v

    @staticmethod
    def _suggest(value: str, options: Iterable[str]) -> str:
        close = difflib.get_close_matches(value, list(options), n=1, cutoff=0.6)
        return f" Did you mean {close[0]!r}?" if close else ""

    @property
    def usable_types(self) -> list[str]:
        """Catalogue types collected under one of the policy's purposes and not excluded."""
        return [
            t.code
            for t in self.cat
            if t.purposes & self.p.purposes and t.code not in self.p.trigger.excluded_types
        ]

    # -- checks -----------------------------------------------------------------------------

    def run(self) -> None:
        known_names = self.check_names()
        self.check_trigger_thresholds()
        if known_names:
            self.check_can_fire()
        self.check_disclosure()
        self.check_mode()
        self.check_dates()
        self.check_recipient()
        self.check_cooldown()

    def check_names(self) -> bool:
        ok = True
        known_purposes = set(self.cat.purposes)
        for path, value in self._list_paths(("purposes",)):
            if value not in known_purposes:
                ok = False
                self.error(
                    path,
                    f"unknown signal purpose {value!r}; the catalogue "
                    f"(version {self.cat.version}) has: {', '.join(sorted(known_purposes))}."
                    + self._suggest(value, known_purposes),
                )
        for section in ("required_types", "excluded_types"):
            for path, value in self._list_paths(("trigger", section)):
                if value not in self.cat:
                    ok = False
                    self.error(
                        path,
                        f"unknown signal type {value!r} in {section}; see docs/catalogue.md "
                        f"for the {len(self.cat)} types of catalogue {self.cat.version}."
                        + self._suggest(value, self.cat.types),
                    )
        domains = {d.value for d in LIFE_DOMAINS}
        for domain in self.p.trigger.min_per_domain_map:
            if domain not in domains:
                ok = False
                self.error(
                    ("trigger", "min_per_domain", domain),
                    f"unknown life domain {domain!r}; the life domains are: "
                    f"{', '.join(d.value for d in LIFE_DOMAINS)}." + self._suggest(domain, domains),
                )
        return ok

    def check_trigger_thresholds(self) -> None:
        t = self.p.trigger
        if t.min_domains < MIN_DOMAINS:
            self.error(
                ("trigger", "min_domains"),
                f"min_domains is {t.min_domains}; a policy must require at least {MIN_DOMAINS} "
                "distinct life domains: the Wams is about several related problems in one "
                "household, not one problem. Raise min_domains to 2 or more.",
            )
        if t.min_signals < MIN_SIGNALS:
            self.error(
                ("trigger", "min_signals"),
                f"min_signals is {t.min_signals}: this policy would fire on a single signal. "
                f"Set min_signals to at least {MIN_SIGNALS}.",
            )
        elif t.min_signals < t.min_domains:
            self.warn(
                ("trigger", "min_signals"),
                f"min_signals ({t.min_signals}) is below min_domains ({t.min_domains}); each "
                "domain needs its own signal, so the effective minimum is "
                f"{t.min_domains} signals. Write min_signals: {t.min_domains} to say so.",
            )

    def check_can_fire(self) -> None:
        t = self.p.trigger
        purposes = ", ".join(sorted(self.p.purposes))
        both = sorted(t.required_types & t.excluded_types)
        for code in both:
            self.error(
                ("trigger", "required_types"),
                f"{code} is both required and excluded: this trigger can never fire. "
                "Remove it from one of the two lists.",
            )
        for path, code in self._list_paths(("trigger", "required_types")):
            st = self.cat.get(code)
            if not st.purposes & self.p.purposes:
                self.error(
                    path,
                    f"required type {code} is collected only under "
                    f"{', '.join(sorted(st.purposes))}, none of this policy's purposes "
                    f"({purposes}): it is invisible to the policy, so the trigger can never "
                    "fire. Add a purpose or drop the requirement.",
                )
        for path, code in self._list_paths(("trigger", "excluded_types")):
            st = self.cat.get(code)
            if not st.purposes & self.p.purposes:
                self.warn(
                    path,
                    f"excluded type {code} is collected only under "
                    f"{', '.join(sorted(st.purposes))}, none of this policy's purposes: it is "
                    "invisible to the policy and can never veto. Remove it, or reconsider the "
                    "purposes.",
                )
        usable = self.usable_types
        reachable = {d.value for code in usable for d in self.cat.get(code).domains}
        if len(reachable) < t.min_domains:
            self.error(
                ("trigger", "min_domains"),
                f"the trigger can never fire: the signal types this policy can see "
                f"(purposes {purposes}, minus excluded types) bear on only {len(reachable)} "
                f"life domain(s) ({', '.join(sorted(reachable)) or 'none'}), and "
                f"min_domains is {t.min_domains}.",
            )
        for domain in t.min_per_domain_map:
            if domain not in reachable:
                self.error(
                    ("trigger", "min_per_domain", domain),
                    f"the trigger can never fire: no signal type visible to this policy bears "
                    f"on life domain {domain}.",
                )
        if usable:
            longest = max(self.cat.get(c).retention_days for c in usable)
            if t.window_days > longest:
                self.warn(
                    ("trigger", "window_days"),
                    f"window_days is {t.window_days}, but every signal type this policy can "
                    f"see is deleted after at most {longest} days; the window is effectively "
                    f"{longest} days. Shorten it to say what happens.",
                )

    def check_disclosure(self) -> None:
        kinds = {k.value for k in PartnerKind}
        fields = set(IDENTITY_FIELDS)
        contributing_kinds = {
            k.value for code in self.usable_types for k in self.cat.get(code).partner_kinds
        }
        any_field = False
        for kind, allowed in self.p.disclosure.by_partner_kind:
            path: PathT = ("disclosure", kind)
            if kind not in kinds:
                self.error(
                    path,
                    f"unknown partner kind {kind!r}; partner kinds are: "
                    f"{', '.join(sorted(kinds))}." + self._suggest(kind, kinds),
                )
                continue
            for i, name in enumerate(allowed):
                if name not in fields:
                    self.error(
                        (*path, i),
                        f"{name!r} is not an identity field a gateway holds; the fields are: "
                        f"{', '.join(IDENTITY_FIELDS)}." + self._suggest(name, fields),
                    )
            any_field = any_field or bool(allowed)
            if kind == MENTAL_HEALTH_KIND:
                extra = [f for f in allowed if f not in MENTAL_HEALTH_ALLOWED]
                if extra:
                    self.error(
                        path,
                        f"a mental-health partner (GGZ) may disclose only its contact person "
                        f"(contactpersoon), never data about its client; remove: "
                        f"{', '.join(extra)}.",
                    )
            if allowed and kind not in contributing_kinds:
                self.warn(
                    path,
                    f"no signal type visible to this policy comes from a {kind} partner, so "
                    "this disclosure can never be used; remove it.",
                )
        if not any_field:
            self.warn(
                ("disclosure",),
                "no partner may disclose any identity field: the team would get an alert it "
                "cannot act on. Name at least the fields the team needs to make contact.",
            )

    def check_mode(self) -> None:
        for i, basis in enumerate(self.p.legal_basis):
            low = basis.citation.lower()
            if basis.standing and any(m in low for m in CASE_BASED_STATUTE_MARKERS):
                self.error(
                    ("legal_basis", i, "standing"),
                    "this citation of the Wams is marked standing, but the Wams is case-based: "
                    "it is no licence to link everyone's data in advance (MvT 36295-3 § 4.3.2). "
                    "Remove `standing: true` here.",
                )
        if self.p.mode is not PolicyMode.STANDING:
            return
        if not any(
            b.standing and not any(m in b.citation.lower() for m in CASE_BASED_STATUTE_MARKERS)
            for b in self.p.legal_basis
        ):
            self.error(
                ("mode",),
                "a standing policy evaluates every household continuously and needs a legal "
                "basis for standing processing: cite it under legal_basis with "
                "`standing: true` (e.g. Wgs art. 3 lid 3), or use mode: on_request.",
            )
        for path, purpose in self._list_paths(("purposes",)):
            if purpose in self.cat.purposes and purpose not in STANDING_PURPOSES:
                self.error(
                    path,
                    f"purpose {purpose} is case-based and may not be combined in a standing "
                    f"policy; standing purposes are: {', '.join(sorted(STANDING_PURPOSES))}. "
                    "Use mode: on_request, or drop this purpose.",
                )
        if self.p.independent_review is None:
            self.error(
                ("mode",),
                "a standing policy needs an independent review: add an independent_review "
                "section (reviewer, report, reviewed_on); the reviewer must also sign it "
                "(samenloop policy sign --role independent_review).",
            )

    def check_dates(self) -> None:
        p = self.p
        if p.valid_until < p.valid_from:
            self.error(
                ("valid_until",),
                f"valid_until ({p.valid_until}) is before valid_from ({p.valid_from}).",
            )
        elif p.valid_until < self.today:
            self.error(
                ("valid_until",),
                f"the validity ended on {p.valid_until}, in the past (today is {self.today}); "
                "set a new valid_until and a higher version.",
            )

    def check_recipient(self) -> None:
        try:
            parse_x25519_public_key(self.p.recipient.public_key)
        except InvalidPublicKey as exc:
            self.error(
                ("recipient", "public_key"),
                f"not a valid X25519 public key ({exc}); ask the team for its inbox's X25519 "
                "public key (standard base64, 44 characters) and paste it here.",
            )

    def check_cooldown(self) -> None:
        t = self.p.trigger
        if self.p.cooldown_days < t.window_days:
            self.warn(
                ("cooldown_days",),
                f"cooldown_days ({self.p.cooldown_days}) is shorter than window_days "
                f"({t.window_days}): the same signals could raise a second alert for the same "
                "household after the cooldown.",
            )
