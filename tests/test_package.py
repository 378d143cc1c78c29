"""The package's public names: every one resolves, and ``import access15`` imports none of the pipeline (a
worker process that only writes a GeoPackage, or ``access15 --version``, starts in a fraction of a second)."""

from __future__ import annotations

import subprocess
import sys

import access15


def test_every_public_name_resolves_to_its_module():
    assert sorted(access15.__all__) == sorted([*access15._EXPORTS, "__version__"])
    for name, module in access15._EXPORTS.items():
        assert getattr(access15, name).__module__.startswith(f"access15.{module}"), name
    assert set(access15.__all__) <= set(dir(access15))


def test_import_is_light():
    code = ("import sys, access15; heavy = [m for m in ('access15.pipeline', 'access15.batch', 'geopandas', "
            "'dask', 'folium') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_an_unknown_name_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'analyse'"):
        access15.analyse  # noqa: B018
