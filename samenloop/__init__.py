"""samenloop: privacy-preserving signal matching under the Wams.

This package holds what every role shares at the edge: the `samenloop` CLI (`samenloop.cli`)
and the generated gRPC API (`samenloop.v1`, generated from `proto/samenloop/v1`).
"""

__version__ = "0.1.0"
