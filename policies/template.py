"""The commented template `samenloop policy new` writes.

Its blanks are written `<like this>`; lint refuses the policy until every one is filled
(`policies.placeholders`). Everything else is a working choice the author may keep: once the
blanks are filled, both templates lint clean (a test fills them and lints).
"""

from __future__ import annotations

from datetime import date, timedelta

from policies.fields import IDENTITY_FIELDS

TEMPLATE_VALIDITY = timedelta(days=365)
"""A new policy is valid for a year from today; the officers set the dates they decide."""

_TEMPLATE = """\
# samenloop policy - written by the privacy officer, co-signed by a second privacy officer.
# Every field is explained in docs/policies.md. Fill in every <blank>, then check your work:
#   samenloop policy lint {filename}
# Any change after signing invalidates the signatures: raise `version` and sign again.

# A stable id (lower case, digits, hyphens) and a version number.
id: {policy_id}
version: 1
title: {title}
{legal_basis}
# The purpose in plain language, as it will appear in the algorithm register.
purpose: >-
{purpose}

# The controller's processing activity id (logged with every event): your CBS municipality
# code and the id of the activity in your register of processing activities. The controller
# is the college of B&W of your municipality.
processing_activity_id: "GM<cbs-code>/{activity}"
controller: College van burgemeester en wethouders van de gemeente <naam gemeente>

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
  team_id: "<team-id, e.g. wijkteam-noord>"
  name: "<name of the team>"
  public_key: "<the team's X25519 public key, 44 characters of base64>"

# The municipality (CBS code, e.g. GM0599 for Rotterdam) and, optionally, the four-digit
# postcode areas served.
scope:
  municipality: "GM<cbs-code>"
  # areas: ["1011", "1012"]

# When does a household match? Within window_days, at least min_signals signals in at least
# min_domains distinct life domains (each domain evidenced by a different signal type).
{trigger}
# Per partner kind (housing, police, mental_health, municipality), the identity fields its
# gateway may seal to the team. Fields: {fields}.
# A mental-health partner may disclose only its contact person.
{disclosure}
# No second alert for the same household within cooldown_days; alerts kept alert_days.
cooldown_days: 180
retention:
  alert_days: 365

# Validity: the policy is in force only between these dates (inclusive). Re-assess it at the
# latest when it ends; see docs/policy-library.md for the validity the library uses.
valid_from: {valid_from}
valid_until: {valid_until}
"""

_ON_REQUEST = {
    "title": "Meervoudige problematiek in een huishouden (op verzoek)",
    "legal_basis": """
# The law that allows this processing: one or more citations. The Wams allows an inquiry about
# one household at the request of an involved professional; it is case-based, never standing.
legal_basis:
  - citation: "Wet aanpak meervoudige problematiek sociaal domein (Wams), art. 2 en 3"
""",
    "purpose": """\
  When an involved professional asks about one household with a stated reason, find out
  whether it has problems in several life domains, so one regisseur can coordinate help.""",
    "activity": "wams-gecoordineerde-aanpak",
    "purposes": "wams-gecoordineerde-aanpak",
    "trigger": """\
trigger:
  window_days: 180
  min_domains: 2          # never below 2: the Wams is about several related problems
  min_signals: 2          # never below 2: no policy fires on a single signal
  # required_types: [huurachterstand]      # all of these must be present
  # excluded_types: [schuldhulp_aanvraag]  # any of these vetoes (already in a care pathway)
  # min_per_domain:
  #   financien: 2
""",
    "disclosure": """\
disclosure:
  housing: [postcode, huisnummer, huisletter, huisnummertoevoeging, contactpersoon]
  mental_health: [contactpersoon]
""",
}

_STANDING = {
    "title": "Vroegsignalering schulden (doorlopend)",
    "legal_basis": """
# A standing policy evaluates every household continuously, without anyone asking. That needs a
# statutory provision that itself provides for such standing processing, cited here and marked
# `standing: true`: for debt early warning, the Wet gemeentelijke schuldhulpverlening art. 3
# lid 3 and art. 5 lid 1 (with the Besluit gemeentelijke schuldhulpverlening art. 2-3). The
# Wams is case-based ("geen vrijbrief", MvT 36295-3 par. 4.3.2) and never qualifies; lint
# refuses a Wams citation marked standing. Standing also needs an independent review (below)
# and only standing purposes.
legal_basis:
  - citation: "<the provision for standing processing, e.g. Wgs art. 3 lid 3 en art. 5 lid 1>"
    standing: true
    # url: https://wetten.overheid.nl/BWBR0031899    # optional: a link to the provision
""",
    "purpose": """\
  Households with rent arrears and at least one other payment arrear are offered debt help
  early, before an eviction; the Wgs requires the municipality to act on these signals.""",
    "activity": "wgs-vroegsignalering",
    "purposes": "wgs-vroegsignalering",
    "trigger": """\
trigger:
  window_days: 120
  min_domains: 2          # never below 2: several related problems, not one
  min_signals: 2          # never below 2: no policy fires on a single signal
  required_types: [huurachterstand]        # all of these must be present
  excluded_types: [schuldhulp_aanvraag]    # already in a debt-help pathway: no alert
  min_per_domain:
    financien: 2          # rent arrears plus another payment arrear
""",
    "disclosure": """\
disclosure:
  housing: [postcode, huisnummer, huisletter, huisnummertoevoeging,
            voorletters, voorvoegsel, geslachtsnaam]
  municipality: [postcode, huisnummer, huisletter, huisnummertoevoeging,
                 voorletters, voorvoegsel, geslachtsnaam]
""",
}

_REVIEW = """
# Required for a standing policy: who reviewed it independently (their officer id in the trust
# file, role independent_review), the report (e.g. the DPIA), and when. The reviewer signs too:
#   samenloop policy sign {filename} --role independent_review ...
independent_review:
  reviewer: "<officer id of the independent reviewer>"
  report: "<the review report, e.g. DPIA vroegsignalering 2026-03>"
  reviewed_on: {today}
"""


def policy_template(*, policy_id: str, standing: bool, today: date, filename: str = "FILE") -> str:
    """A commented policy for the author to complete (it does not lint until they do)."""
    parts = _STANDING if standing else _ON_REQUEST
    return _TEMPLATE.format(
        filename=filename,
        policy_id=policy_id,
        mode="standing" if standing else "on_request",
        review=_REVIEW.format(today=today.isoformat(), filename=filename) if standing else "",
        fields=", ".join(IDENTITY_FIELDS),
        valid_from=today.isoformat(),
        valid_until=(today + TEMPLATE_VALIDITY).isoformat(),
        **parts,
    )
