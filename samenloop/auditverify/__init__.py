"""`samenloop audit verify`: the independent check of the matcher's Merkle audit log (ADR 0022)."""
