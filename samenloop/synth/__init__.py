"""A reproducible synthetic Dutch city for demos and end-to-end tests (`samenloop synth city`).

Everything here is made up: persons, BSNs, names and addresses are generated from a seed. The
package has three jobs, one module each:

- `generate` builds the city as an in-memory model (`model.City`): households, persons, BRP
  links (with moves), signals, withdrawals and inquiries;
- `exports` writes that model in each partner's own export format (the shipped mappings under
  examples/partners/ read them), with messy but legitimate formatting and a share of invalid rows;
- `truth` decides, from the model alone, which households each library policy must flag. It does
  not use `policies.trigger` or the matcher: it is the independent oracle for precision and
  recall.

See docs/synth.md.
"""

from __future__ import annotations

from samenloop.synth.generate import generate_city
from samenloop.synth.model import City
from samenloop.synth.write import write_city

__all__ = ["City", "generate_city", "write_city"]
