"""The commented template `samenloop policy new` writes."""

from __future__ import annotations

from datetime import date, timedelta

from policies.fields import IDENTITY_FIELDS

_TEMPLATE = """\
# samenloop policy - written by the privacy officer, co-signed by a second privacy officer.
# Every field is explained in docs/policies.md. Check your work with:
#   samenloop policy lint {filename}
# Any change after signing invalidates the signatures: raise `version` and sign again.

# A stable id (lower case, digits, hyphens) and a version number.
id: {policy_id}
version: 1
title: Meervoudige problematiek in een huishouden (op verzoek)

# The law that allows this processing: one or more citations. Mark a citation
# `standing: true` only if it allows evaluating every household continuously
# (e.g. Wgs art. 3 lid 3); the Wams is case-based and never standing.
legal_basis:
  - citation: "Wet aanpak meervoudige problematiek sociaal domein (Wams), art. 2 en 3"

# The purpose in plain language, as it will appear in the algorithm register.
purpose: >-
  When an involved professional asks about one household with a stated reason, find out
  whether it has problems in several life domains, so one regisseur can coordinate help.

# The controller's processing activity id (logged with every event) and the controller.
processing_activity_id: GM0000/wams-gecoordineerde-aanpak
controller: College van burgemeester en wethouders van de gemeente ...

# on_request (default): evaluated for one household when a professional asks (Wams).
# standing: every household continuously; needs a standing legal basis, only standing
# purposes, an independent_review section and the reviewer's signature.
mode: {mode}
{review}
# The signal purposes this policy may combine; signals with other purposes are invisible.
purposes: [{purposes}]

# The team that receives alerts, and its X25519 public key (the inbox prints it). Disclosures
# are sealed to this key, so a compromised matcher cannot redirect them.
recipient:
  team_id: wijkteam-...
  name: Wijkteam ...
  public_key: "PASTE-THE-TEAM-PUBLIC-KEY-HERE"

# The municipality (CBS code) and, optionally, the four-digit postcode areas served.
scope:
  municipality: GM0000
  # areas: ["1011", "1012"]

# When does a household match? Within window_days, at least min_signals signals in at least
# min_domains distinct life domains (each domain evidenced by a different signal type).
trigger:
  window_days: 180
  min_domains: 2          # never below 2: the Wams is about several related problems
  min_signals: 2          # never below 2: no policy fires on a single signal
  # required_types: [huurachterstand]      # all of these must be present
  # excluded_types: [schuldhulp_aanvraag]  # any of these vetoes (already in a care pathway)
  # min_per_domain:
  #   financien: 2

# Per partner kind (housing, police, mental_health, municipality), the identity fields its
# gateway may seal to the team. Fields: {fields}.
# A mental-health partner may disclose only its contact person.
disclosure:
  housing: [postcode, huisnummer, huisletter, huisnummertoevoeging, contactpersoon]
  mental_health: [contactpersoon]

# No second alert for the same household within cooldown_days; alerts kept alert_days.
cooldown_days: 180
retention:
  alert_days: 365

# Validity: the policy is in force only between these dates (inclusive).
valid_from: {valid_from}
valid_until: {valid_until}
"""

_REVIEW = """
# Required for a standing policy: who reviewed it independently (their officer id in the trust
# file), the report, and when. The reviewer signs with --role independent_review.
independent_review:
  reviewer: ir-...
  report: "..."
  reviewed_on: {today}
"""


def policy_template(*, policy_id: str, standing: bool, today: date, filename: str = "FILE") -> str:
    """A commented policy for the author to complete (it does not lint until they do)."""
    return _TEMPLATE.format(
        filename=filename,
        policy_id=policy_id,
        mode="standing" if standing else "on_request",
        review=_REVIEW.format(today=today.isoformat()) if standing else "",
        purposes="wgs-vroegsignalering" if standing else "wams-gecoordineerde-aanpak",
        fields=", ".join(IDENTITY_FIELDS),
        valid_from=today.isoformat(),
        valid_until=(today + timedelta(days=365)).isoformat(),
    )
