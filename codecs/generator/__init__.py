"""Our SBE → Python code generator (sbe-tool has no Python target).

``python -m rfq.codecs.generator schema/rfq.xml -o codecs/rfq_sbe.py`` (what ``make codecs`` runs)
reads the schema with :mod:`xml.etree` (:mod:`.parser`), resolves it into a small IR (:mod:`.ir`) and
writes one readable module (:mod:`.emit`, :mod:`.plans`) whose API docs/codec-api.md documents.
Generation is deterministic: the same schema gives the same bytes, which the drift test relies on.
"""

from __future__ import annotations

from pathlib import Path

from .emit import emit_module
from .ir import GeneratorError, Schema
from .parser import parse_schema

__all__ = ["GeneratorError", "Schema", "generate", "parse_schema"]


def generate(schema_path: str | Path, source_name: str | None = None) -> str:
    """The Python source of the codecs of ``schema_path``; ``source_name`` names it in the marker."""
    path = Path(schema_path)
    return emit_module(parse_schema(path), source_name or path.as_posix())
