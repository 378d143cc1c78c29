"""``access15 fetch CONFIG``: only the download of a config's area through OSMnx (see :mod:`access15.fetch`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from ..config import load_config
from ..errors import Access15Error, InputError
from ..fetch import fetch, fetch_paths, is_online
from ..text import t
from .app import app, cli_lang, console, err, fail


@app.command("fetch")
def fetch_cmd(config: Path = typer.Argument(..., help="Analysis config (TOML) with [network] place, polygon or bbox."),
              force: bool = typer.Option(False, "--force", help="Download again even when the files are cached.")) -> None:
    """Download the street network (and path = "osm" facilities) of [network] place/polygon/bbox into the cache."""
    lang = cli_lang(config)
    try:
        cfg = load_config(config)
        if not is_online(cfg):
            raise InputError(config, "[network] names a local file, nothing to download",
                             "set place = \"district, city\" (or polygon / bbox) without path to download an area")
        with err.status(t(lang, "cli_starting")) as status:
            def progress(msg: str) -> None:
                status.update(escape(msg) + " …")
                err.print(f"[dim]  {escape(msg)}[/dim]")

            rec = fetch(cfg, progress=progress, force=force)
    except Access15Error as exc:
        fail(exc, lang)
    paths = fetch_paths(cfg)
    console.print(t(lang, "cli_fetch_cached" if rec.get("reused") else "cli_fetch_downloaded",
                    nodes=rec.get("nodes", "?"), edges=rec.get("edges", "?"))
                  + (t(lang, "cli_fetch_facilities", counts=rec["facilities_per_category"])
                     if rec.get("facilities_per_category") else "")
                  + f" ({rec.get('downloaded_utc')}, {rec.get('overpass_url')})")
    for p in (paths.network, paths.facilities, paths.area, paths.record):
        if p is not None:
            console.print(f"  {p}")
