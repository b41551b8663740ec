"""The shared domain package: the signal catalogue, identifier normalisation, export formats.

Used by the gateway, the matcher, the policies and the tests; see domain/README.md for the public
API. Everything here is pure (no I/O beyond reading the files it is asked to read) and never puts
a personal value into an error message.
"""

from domain.catalogue import (
    KNOWN_PURPOSES,
    LIFE_DOMAINS,
    Catalogue,
    LifeDomain,
    PartnerKind,
    Purpose,
    SignalType,
    Subject,
    load_catalogue,
)
from domain.errors import (
    CatalogueError,
    DomainError,
    FileFormatError,
    InvalidValue,
    MappingError,
    UnknownSignalType,
)

__all__ = [
    "KNOWN_PURPOSES",
    "LIFE_DOMAINS",
    "Catalogue",
    "CatalogueError",
    "DomainError",
    "FileFormatError",
    "InvalidValue",
    "LifeDomain",
    "MappingError",
    "PartnerKind",
    "Purpose",
    "SignalType",
    "Subject",
    "UnknownSignalType",
    "load_catalogue",
]
