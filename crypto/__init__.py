"""samenloop's cryptographic primitives, from standards, proven by their published test vectors.

No service code lives here. Modules, one job each (see crypto/README.md for the signatures):

- `crypto.oprf`       RFC 9497 OPRF/VOPRF, ristretto255-SHA512; recipes `VoprfClient` (gateway,
                      pinned key) and `VoprfServer` (pseudonymiser)
- `crypto.pseudonyms` the domain-separated VOPRF input and the matcher's HMAC pseudonym
- `crypto.jcs`        RFC 8785 `canonical_bytes(obj)`
- `crypto.signing`    Ed25519 over canonical bytes, key ids, key files
- `crypto.sealing`    X25519 sealed boxes, strict recipient-key parsing
- `crypto.vault`      XChaCha20-Poly1305 rows bound to their row id
- `crypto.merkle`     RFC 9162 tree hashes, inclusion and consistency proofs
- `crypto.checkpoint` C2SP tlog-checkpoint in a C2SP signed note (Ed25519)
- `crypto.keys`       key files for every role; `crypto.pki` development CA and mTLS identity
- `crypto.ristretto`, `crypto.h2c`  the group and RFC 9380 hashing underneath
- `crypto.errors`     `CryptoError` and its subclasses

Every error is a `crypto.errors.CryptoError`; no message carries secret material.
"""
