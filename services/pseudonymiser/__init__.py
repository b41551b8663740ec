"""The pseudonymisation service: the trusted third party that holds the VOPRF key.

It evaluates blinded ristretto255 elements for gateways (RFC 9497, VOPRF mode, one batch proof
per request) and never sees an input. It serves only the organisations in its configuration,
each with its own rate limit and daily quota, so no gateway can turn it into a dictionary
oracle. `client.py` is the gateway's side.
"""
