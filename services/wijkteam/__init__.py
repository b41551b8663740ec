"""The wijkteam inbox: the team's own web app and CLI (docs/inbox.md, ADR 0018).

It fetches the team's alerts from the matcher over mTLS, verifies each sealed disclosure and
opens it with the team's X25519 key in memory only, and records assignment, decision and
closing; every list, view and action is audited at the matcher with the member's team-local id.
"""
