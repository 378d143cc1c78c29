"""The package's own data files, read as config: target presets, travel profiles and walking profiles.

``data/targets_<name>.toml`` hold plan targets (the ``china_plans`` preset), ``data/speeds.toml`` the road-class
travel profiles of per-class circles, ``data/walk_profiles.toml`` the walking profiles (who walks: speed,
slope, steps, exclusions; see docs/walking.md). The config checks names against them; the analysis reads
them through the same functions.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import InputError
from .schema import build_dataclass, closest_key

#: Target measures (see :class:`TargetConfig` and :mod:`access15.standards`).
MEASURES = ("per_1000", "per_10000", "per_resident", "coverage", "min_per_unit", "unit_share")


#: Target presets shipped in ``data/targets_<name>.toml``.
PRESETS = ("china_plans",)


def load_preset(name: str) -> dict[str, Any]:
    """The targets table of a shipped preset."""
    if name not in PRESETS:
        raise InputError("[targets]", f"unknown preset '{name}'", "use one of " + ", ".join(PRESETS))
    text = resources.files("access15").joinpath(f"data/targets_{name}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)["targets"]


def load_profiles() -> dict[str, dict]:
    """The built-in profiles: {name: {"default": km/h, "walk": km/h, "highway": {class: km/h}}}."""
    text = resources.files("access15").joinpath("data/speeds.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)["profiles"]


def check_profile(name: str, source: Path | str) -> dict:
    """The named profile, or a one-line error listing the known ones."""
    profiles = load_profiles()
    if name not in profiles:
        raise InputError(source, f"unknown travel profile '{name}'", "use one of " + ", ".join(profiles))
    return profiles[name]


#: OSM highway classes that are major roads for crossing waits (城市主干路 / 次干路 and faster), by default.
MAJOR_ROADS = ("trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link")


@dataclass
class WalkProfile:
    """A walking profile (``data/walk_profiles.toml``; the model and sources in docs/walking.md).

    ``kmh``: speed on flat ground, km/h. Slope: speed(s) = kmh * exp(-tobler_b * |s + tobler_c|) /
    exp(-tobler_b * tobler_c) for slope s (rise / run), capped at ``max_speedup`` x kmh when given;
    ``max_slope``: |s| beyond which a way is unusable. ``rest_share``: minutes of rest per minute walked.
    Steps (highway=steps) take ``step_up_s`` / ``step_down_s`` seconds per step (``step_count``, else length /
    ``step_tread_m``); ``no_steps`` forbids them unless a tag of ``steps_with`` is "yes"; ``no_wheelchair``
    forbids ways tagged wheelchair=no; ``no_kerbs``: ``kerb=*`` values on a node of a way that make it unusable.
    Crossings (only with ``[network] crossing_waits = true``): ``wait_signals_s`` / ``wait_uncontrolled_s``
    seconds of waiting when the walker enters, from a way that is not a major road, a node of a major road
    (highway class in ``major_roads``) tagged as signalised / another crossing.
    """

    name: str
    label: str = ""
    kmh: float = 4.0
    tobler_b: float = 3.5
    tobler_c: float = 0.05
    max_speedup: float | None = None
    max_slope: float | None = None
    rest_share: float = 0.0
    step_up_s: float | None = None
    step_down_s: float | None = None
    step_tread_m: float = 0.3
    no_steps: bool = False
    steps_with: list[str] = field(default_factory=list)
    no_wheelchair: bool = False
    no_kerbs: list[str] = field(default_factory=list)
    wait_signals_s: float = 0.0
    wait_uncontrolled_s: float = 0.0
    major_roads: list[str] = field(default_factory=lambda: list(MAJOR_ROADS))

    @property
    def m_per_min(self) -> float:
        """Flat speed in metres per minute."""
        return self.kmh * 1000.0 / 60.0


def load_walk_profiles() -> dict[str, WalkProfile]:
    """The built-in walking profiles of ``data/walk_profiles.toml`` by name."""
    text = resources.files("access15").joinpath("data/walk_profiles.toml").read_text(encoding="utf-8")
    return {name: build_dataclass(WalkProfile, table, name, "walk_profiles.toml", name=name)
            for name, table in tomllib.loads(text).items()}


def check_walk_profile(name: Any, source: Path | str, where: str = "profile") -> WalkProfile:
    """The named walking profile, or a one-line error listing the known ones."""
    profiles = load_walk_profiles()
    if not isinstance(name, str) or name not in profiles:
        raise InputError(source, f"{where} = {name!r} is not a walking profile",
                         (closest_key(name, list(profiles)) + " " if isinstance(name, str) else "")
                         + "(known: " + ", ".join(profiles) + ")")
    return profiles[name]
