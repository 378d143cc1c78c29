"""The demo's coverage by walker: flat adult (the default demo) vs slope-aware vs elderly / wheelchair / pram.

    python scripts/walking_figures.py          # prints the markdown table used in docs/walking.md and the README

Every figure is a real run of ``access15.analyze`` on the bundled Porto Alegre data (network, clinics, schools,
census population) and its real DEM (``data/elevation/porto_alegre_elevation.tif``).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from access15 import analyze  # noqa: E402
from access15.config import load_config  # noqa: E402
from access15.network import load_network  # noqa: E402

VARIANTS = [  # (label, elevation?, profile)
    ("flat, adult 4 km/h (today's demo)", False, None),
    ("slope, adult 4 km/h (Tobler)", True, None),
    ("flat, elderly profile", False, "elderly"),
    ("slope, elderly profile", True, "elderly"),
    ("slope, pram profile", True, "pram"),
    ("slope, wheelchair profile", True, "wheelchair"),
]


def main() -> None:
    net = load_network(ROOT / "data" / "osm" / "porto_alegre.osm.pbf")
    cats = ("clinic", "school")
    print("| walker | " + " | ".join(f"{c} within 15 min | {c} median (min)" for c in cats) + " | run (s) |")
    print("| --- | " + " | ".join("---: | ---:" for _ in cats) + " | ---: |")
    for label, slope, profile in VARIANTS:
        cfg = load_config(ROOT / "configs" / "porto_alegre.toml")
        if slope:
            cfg.network.elevation = str(ROOT / "data" / "elevation" / "porto_alegre_elevation.tif")
        for c in cats:
            cfg.categories[c].profile = profile
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = analyze(cfg, network=net)
        took = time.perf_counter() - t
        cov = res.coverage.set_index("category")
        cells = " | ".join(f"{cov.loc[c, 'share_covered']:.1%} | {cov.loc[c, 'median_min']:.1f}" for c in cats)
        print(f"| {label} | {cells} | {took:.1f} |", flush=True)


if __name__ == "__main__":
    main()
