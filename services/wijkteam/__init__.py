"""The wijkteam inbox: fetches the team's alerts from the matcher, opens the sealed disclosures
with the team's own X25519 key, and records assignment, review and outcome.

Not built yet (wijkteam-inbox issue); the matcher's WijkteamService API it will use exists in
proto/samenloop/v1/wijkteam.proto.
"""
