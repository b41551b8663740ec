"""The API's enums by the names the code, the audit log and people use, in one place.

The matcher's servicers and the wijkteam inbox both translate between `samenloop.v1` enum values
and these names (`open`, `no_contact`, `help_accepted`, `mental_health`); one table each, read
both ways, so the two ends cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

from samenloop.v1 import common_pb2, wijkteam_pb2

E = TypeVar("E", bound=int)


class EnumNames(Generic[E], Mapping[str, E]):
    """name -> enum value (a read-only mapping), and `name_of` for the way back."""

    def __init__(self, values: Mapping[str, E], unspecified: E) -> None:
        self._values = dict(values)
        self._names: dict[int, str] = {int(v): k for k, v in self._values.items()}
        self.unspecified = unspecified

    def __getitem__(self, name: str) -> E:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def value_of(self, name: str | None) -> E:
        """The enum value of `name`; unknown or empty: the `…_UNSPECIFIED` value."""
        return self._values.get(name or "", self.unspecified)

    def name_of(self, value: int, default: str = "") -> str:
        """The name of an enum value; unknown or unspecified: `default`."""
        return self._names.get(int(value), default)


ALERT_STATES = EnumNames({
    "open": wijkteam_pb2.ALERT_STATE_OPEN,
    "assigned": wijkteam_pb2.ALERT_STATE_ASSIGNED,
    "reviewed": wijkteam_pb2.ALERT_STATE_REVIEWED,
    "closed": wijkteam_pb2.ALERT_STATE_CLOSED,
}, wijkteam_pb2.ALERT_STATE_UNSPECIFIED)
REVIEW_DECISIONS = EnumNames({
    "contact": wijkteam_pb2.REVIEW_DECISION_CONTACT,
    "no_contact": wijkteam_pb2.REVIEW_DECISION_NO_CONTACT,
    "refer": wijkteam_pb2.REVIEW_DECISION_REFER,
}, wijkteam_pb2.REVIEW_DECISION_UNSPECIFIED)
ALERT_OUTCOMES = EnumNames({
    "help_accepted": wijkteam_pb2.ALERT_OUTCOME_HELP_ACCEPTED,
    "help_declined": wijkteam_pb2.ALERT_OUTCOME_HELP_DECLINED,
    "already_in_care": wijkteam_pb2.ALERT_OUTCOME_ALREADY_IN_CARE,
    "no_action_needed": wijkteam_pb2.ALERT_OUTCOME_NO_ACTION_NEEDED,
    "unreachable": wijkteam_pb2.ALERT_OUTCOME_UNREACHABLE,
}, wijkteam_pb2.ALERT_OUTCOME_UNSPECIFIED)
PARTNER_KINDS = EnumNames({
    "housing": common_pb2.PARTNER_KIND_HOUSING,
    "police": common_pb2.PARTNER_KIND_POLICE,
    "mental_health": common_pb2.PARTNER_KIND_MENTAL_HEALTH,
    "municipality": common_pb2.PARTNER_KIND_MUNICIPALITY,
}, common_pb2.PARTNER_KIND_UNSPECIFIED)
