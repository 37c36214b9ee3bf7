"""Codec modules generated at test time from the test-only schemas in ``schemas/``."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from rfq.codecs.testing import load_generated

SCHEMAS = Path(__file__).resolve().parent / "schemas"


@pytest.fixture(scope="session")
def features(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """Every generator feature rfq.xml does not use (sets, nested groups, string var data, ...)."""
    return load_generated(SCHEMAS / "features.xml", tmp_path_factory.mktemp("gen"), "unit_features_sbe")


@pytest.fixture(scope="session")
def evolution_v1(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return load_generated(SCHEMAS / "evolution_v1.xml", tmp_path_factory.mktemp("gen"), "evolution_v1_sbe")


@pytest.fixture(scope="session")
def evolution_v2(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return load_generated(SCHEMAS / "evolution_v2.xml", tmp_path_factory.mktemp("gen"), "evolution_v2_sbe")
