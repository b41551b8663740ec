from tests.support.services import pki, pseudonymiser  # noqa: F401  (fixtures)
