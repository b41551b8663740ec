from tests.support.services import pki  # noqa: F401  (the session's development PKI)
