"""Python names for schema names: snake_case attributes, CamelCase classes, keyword-safe identifiers."""

from __future__ import annotations

import keyword
import re

__all__ = ["class_name", "constant_name", "identifier", "snake"]

_BOUNDARY_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_BOUNDARY_2 = re.compile(r"([a-z0-9])([A-Z])")


def identifier(name: str) -> str:
    """``name`` made a legal, non-keyword Python identifier (a trailing underscore for keywords)."""
    cleaned = re.sub(r"\W", "_", name)
    if not cleaned or cleaned[0].isdigit():
        cleaned = "_" + cleaned
    if keyword.iskeyword(cleaned) or cleaned in ("self", "cls"):
        cleaned += "_"
    return cleaned


def snake(name: str) -> str:
    """``expireTimeMs`` → ``expire_time_ms``; ``HTTPCode`` → ``http_code``."""
    s = _BOUNDARY_1.sub(r"\1_\2", name)
    s = _BOUNDARY_2.sub(r"\1_\2", s)
    return identifier(s.lower())


def constant_name(name: str) -> str:
    """``OptionalPrice`` → ``OPTIONAL_PRICE``."""
    return snake(name).rstrip("_").upper()


def class_name(name: str) -> str:
    """A schema name as a class name: first letter upper-cased, the rest kept."""
    return identifier(name[:1].upper() + name[1:])
