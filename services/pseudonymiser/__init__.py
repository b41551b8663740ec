"""The pseudonymisation service: the trusted third party that holds the VOPRF key.

It evaluates blinded ristretto255 elements for gateways (RFC 9497, VOPRF mode, one batch proof
per request) and never sees an input. Per-partner rate limits and a daily quota stop a gateway
from turning it into a dictionary oracle. `client.py` is the gateway's side.
"""
