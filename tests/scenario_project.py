"""A copy of the bundled demo config with absolute paths, its output (and analysis cache) in a temp folder.

Shared by the scenario and workbench tests: the first caller builds the cached analysis (a few seconds),
later ones load it from disk.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def demo_project(base: Path, name: str = "porto_alegre") -> Path:
    """Write ``base/demo/<name>.toml``, a copy of ``configs/<name>.toml`` (inputs by absolute path,
    ``[output] dir`` under ``base``); return the config path. Idempotent."""
    d = base / "demo" if name == "porto_alegre" else base / name
    cfg = d / f"{name}.toml"
    if cfg.is_file():
        return cfg
    d.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "configs" / f"{name}.toml").read_text(encoding="utf-8")
    src = ROOT / "configs"

    def absolute(m: re.Match) -> str:
        return f'{m.group(1)}"{(src / m.group(2)).resolve().as_posix()}"'

    text = re.sub(r'^(path\s*=\s*)"(\.\./[^"]+)"', absolute, text, flags=re.M)
    text = re.sub(r'^dir\s*=\s*"[^"]*"', f'dir = "{(d / "out").as_posix()}"', text, flags=re.M)
    cfg.write_text(text, encoding="utf-8")
    return cfg
