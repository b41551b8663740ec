"""`samenloop audit …`: the privacy officer's and the supervisor's tools for the audit log.

Each command lives in its own module; this one only assembles the group
(`audit_entries.py`: show, export; `audit_verify.py`: verify).
"""

from __future__ import annotations

from samenloop.cli import audit_entries, audit_subject, audit_verify
from samenloop.cli._app import cli_app

app = cli_app(help="Read, export and verify the append-only audit log.")

app.command("show")(audit_entries.show)
app.command("export")(audit_entries.export)
audit_verify.register(app)
app.command("subject")(audit_subject.subject)
