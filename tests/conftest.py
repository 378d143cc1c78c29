"""Shared fixtures: the real bundled extracts and one cached demo analysis per test session."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
OSM = DATA / "osm"
DEMO_CONFIG = ROOT / "configs" / "porto_alegre.toml"


def write_outputs_quietly(result, out, **kw):
    """``write_outputs`` with the analysis's warnings silenced (the tests that use it check the files)."""
    from access15.outputs import write_outputs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return write_outputs(result, out, **kw)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def porto_alegre_network():
    from access15.network import load_network

    return load_network(OSM / "porto_alegre.osm.pbf")


@pytest.fixture(scope="session")
def helsinki_network():
    from access15.network import load_network

    return load_network(OSM / "helsinki.osm.pbf")


@pytest.fixture(scope="session")
def demo_result(porto_alegre_network):
    """The bundled Porto Alegre analysis (network reused from the session fixture)."""
    from access15 import analyze

    return analyze(DEMO_CONFIG, network=porto_alegre_network)


@pytest.fixture(scope="session")
def tsinghua_network():
    from access15.network import load_network

    return load_network(OSM / "beijing_haidian_tsinghua.osm.pbf")


@pytest.fixture(scope="session")
def tiling():
    """``benchmarks/tiling.py`` (metro-size networks tiled from a real extract), imported from its path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("access15_bench_tiling", ROOT / "benchmarks" / "tiling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
