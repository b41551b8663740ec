"""The Logboek Dataverwerkingen record of an audit entry (Logius standard; ADR 0023).

Every `audit_events` row is one log record ("logregel") of the standard: the fields `trace_id`
(16 bytes, hex), `span_id` (8 bytes), `parent_span_id`, `name`, `start_time` / `end_time`
(milliseconds since the epoch), `status` (`Unset`, `Ok` or `Error`, spelt as the standard
does) and `attributes`, with the standard's `dpl.core.*` attributes and the matcher's own under
the `samenloop.` namespace:

    dpl.core.processing_activity_id       absolute URI into the controller's processing register
    dpl.core.data_subject_id              the matcher pseudonym (hex); absent when no subject
    dpl.core.data_subject_id_type         household_pseudonym | person_pseudonym
    dpl.core.foreign_operation.span_id    the caller's span (W3C traceparent), when it sent one
    dpl.core.foreign_operation.processor  URI of the calling organisation
    samenloop.actor.organisation / .role  from the caller's certificate
    samenloop.purpose                     the processing purpose code(s)
    samenloop.policy.id / .version / .digest
    samenloop.<key>                       the event's own ids, codes and counts

The RFC 8785 canonical JSON of `record(row)` is the entry's `leaf` (fixed at write time), what
the Merkle tree hashes and what `samenloop audit export` writes, one record per line. Rows
written before this shape (`entry_format` 1) keep their first document (`_record_v1`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from services.matcher.settings import DEFAULT_ACTIVITY_URI, DEFAULT_ORGANISATION_URI

UNSET = "Unset"
"""Handled without an internal error, including a refusal of what the caller asked for."""
OK = "Ok"
"""The processing was done as asked."""
ERROR = "Error"
"""An internal failure; the action was not done."""
STATUSES = (UNSET, OK, ERROR)

FORMAT_V1 = 1
"""The first entry document (ADR 0009), for rows written before migration 0006."""
FORMAT = 2
"""The Logboek Dataverwerkingen record (ADR 0023)."""

ATTRIBUTE_NAMESPACE = "samenloop."
RESERVED_KEYS = frozenset({"actor", "purpose", "policy"})
"""Event attribute keys that would collide with the standardised `samenloop.` attributes."""

_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Register:
    """Turns the matcher's ids into the URIs an entry carries (config `logboek:`)."""

    activity_template: str = DEFAULT_ACTIVITY_URI
    organisation_template: str = DEFAULT_ORGANISATION_URI

    def activity(self, activity_id: str) -> str:
        """The processing activity `activity_id` (e.g. `GM0599/wams-01`) as a register URI.

        An id that already is an absolute URI is kept as it is."""
        if "://" in activity_id:
            return activity_id
        return self.activity_template.replace("{id}", quote(activity_id, safe="/:@"))

    def organisation(self, organisation: str) -> str:
        """The calling organisation (its OIN or development slug) as a URI."""
        return self.organisation_template.replace("{organisation}",
                                                  quote(organisation, safe=""))


@dataclass(frozen=True)
class PolicyRef:
    """The policy an action was taken under (id, version, SHA-256 digest of its document).

    Version and digest are unknown (None, "") only when the caller named a policy that is
    not published."""

    id: str
    version: int | None = None
    digest: str = ""


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch of a naive UTC datetime, rounded down (exact, no float)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The log record of a stored (or about to be stored) `audit_events` row."""
    if int(row.get("entry_format") or FORMAT_V1) == FORMAT_V1:
        return _record_v1(row)
    attributes: dict[str, Any] = {
        "dpl.core.processing_activity_id": row["processing_activity_id"],
    }
    if row["data_subject_id"]:
        attributes["dpl.core.data_subject_id"] = row["data_subject_id"]
        attributes["dpl.core.data_subject_id_type"] = row["data_subject_id_type"]
    if row["foreign_span_id"]:
        attributes["dpl.core.foreign_operation.span_id"] = row["foreign_span_id"]
    if row["foreign_processor"]:
        attributes["dpl.core.foreign_operation.processor"] = row["foreign_processor"]
    attributes["samenloop.actor.organisation"] = row["actor_organisation"]
    attributes["samenloop.actor.role"] = row["actor_role"]
    if row["purpose"]:
        attributes["samenloop.purpose"] = row["purpose"]
    if row["policy_id"]:
        attributes["samenloop.policy.id"] = row["policy_id"]
    if row["policy_version"] is not None:
        attributes["samenloop.policy.version"] = int(row["policy_version"])
    if row["policy_digest"]:
        attributes["samenloop.policy.digest"] = row["policy_digest"]
    for key, value in dict(row["attributes"]).items():
        attributes[ATTRIBUTE_NAMESPACE + str(key)] = str(value)
    document: dict[str, Any] = {
        "trace_id": row["trace_id"],
        "span_id": row["span_id"],
        "name": row["name"],
        "start_time": epoch_ms(row["start_time"]),
        "end_time": epoch_ms(row["end_time"]),
        "status": row["status_code"],
        "attributes": attributes,
    }
    if row["parent_span_id"]:
        document["parent_span_id"] = row["parent_span_id"]
    return document


def _record_v1(row: Mapping[str, Any]) -> dict[str, Any]:
    """The entry document of ADR 0009 (rows written before the Logboek record)."""

    def iso(moment: datetime) -> str:
        return moment.isoformat(timespec="microseconds") + "Z"

    return {
        "trace_id": row["trace_id"],
        "span_id": row["span_id"],
        "parent_span_id": row["parent_span_id"],
        "name": row["name"],
        "start_time": iso(row["start_time"]),
        "end_time": iso(row["end_time"]),
        "status_code": row["status_code"],
        "actor": {"organisation": row["actor_organisation"], "role": row["actor_role"]},
        "dpl.core.processing_activity_id": row["processing_activity_id"],
        "dpl.core.data_subject_id": row["data_subject_id"],
        "dpl.core.data_subject_id_type": row["data_subject_id_type"],
        "foreign_operation": row["foreign_operation"],
        "attributes": dict(row["attributes"]),
    }
