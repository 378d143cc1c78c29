"""Make a folium map self-contained: inline the vendored Leaflet instead of loading anything from a CDN.

folium's page template links Leaflet, jQuery, Bootstrap, Font Awesome and Leaflet.awesome-markers from
public CDNs, which a government intranet often cannot reach. access15's maps use Leaflet core only, so
:func:`inline_assets` drops every other resource, inlines ``vendor/leaflet/leaflet.{js,css}`` (with the
CSS images as data URLs) and refuses elements that need a resource it does not ship.
:func:`assert_offline` checks the rendered page. Complexity: O(size of the page).
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from importlib import resources

import branca
import folium

#: Resources access15 ships (name as folium spells it -> file under ``access15/vendor``).
VENDORED = {"leaflet": "leaflet/leaflet.js", "leaflet_css": "leaflet/leaflet.css"}
#: Resources folium's Map template always lists but access15's maps never use.
UNUSED_MAP_RESOURCES = {"jquery", "bootstrap", "awesome_markers", "bootstrap_css", "glyphicons_css",
                        "awesome_markers_font_css", "awesome_markers_css", "awesome_rotate_css"}

_EXTERNAL = re.compile(r"<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//[^\"'\s>]+",
                       re.IGNORECASE)


def _vendor(rel: str) -> bytes:
    return (resources.files("access15") / "vendor" / rel).read_bytes()


@lru_cache(maxsize=1)
def vendored_head() -> str:
    """The ``<style>`` and ``<script>`` block that replaces folium's CDN links (Leaflet 1.9.4)."""
    css = _vendor(VENDORED["leaflet_css"]).decode("utf-8")

    def data_url(match: re.Match) -> str:
        png = base64.b64encode(_vendor("leaflet/" + match.group(1))).decode("ascii")
        return f"url(data:image/png;base64,{png})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", data_url, css)
    js = _vendor(VENDORED["leaflet"]).decode("utf-8")
    js = re.sub(r"//# sourceMappingURL=\S+\s*$", "", js)  # no request for a source map
    if "</script" in js.lower() or "</style" in css.lower():  # pragma: no cover - guards a vendor upgrade
        raise RuntimeError("a vendored asset contains a closing tag and cannot be inlined")
    return f"<style>\n{css}\n</style>\n<script>\n{js}\n</script>"


class _Raw(branca.element.Element):
    """An element that renders its text verbatim (no Jinja parsing of the JavaScript)."""

    _template = branca.element.Template("{{ this.text }}")

    def __init__(self, text: str):
        super().__init__()
        self._name = "Access15Inline"
        self.text = text


def _walk(element: branca.element.Element):
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def inline_assets(fmap: folium.Map) -> folium.Map:
    """Replace the CDN links of ``fmap`` and all its elements by the vendored Leaflet, inlined.

    Raises
    ------
    RuntimeError
        If an element needs a JavaScript or CSS resource that access15 does not vendor.
    """
    root = fmap.get_root()
    for el in _walk(root):
        for attr in ("default_js", "default_css"):
            for name, url in getattr(el, attr, None) or []:
                if name in VENDORED or (el is fmap and name in UNUSED_MAP_RESOURCES):
                    continue
                raise RuntimeError(f"{type(el).__name__} needs '{name}' ({url}), which access15 does not "
                                   "ship in access15/vendor; the map would not open offline")
            if hasattr(el, attr):
                setattr(el, attr, [])  # instance attribute: folium renders no <script src>/<link> for it
    root.header.add_child(_Raw(vendored_head()), name="access15_vendored_leaflet", index=0)
    return fmap


def external_resources(page: str) -> list[str]:
    """Script, stylesheet, image or frame tags in ``page`` that load from another host."""
    return [m.group(0) for m in _EXTERNAL.finditer(page)]


def assert_offline(page: str) -> str:
    """Return ``page`` unchanged, or raise ``RuntimeError`` naming the first external resource."""
    found = external_resources(page)
    if found:
        raise RuntimeError(f"the map still loads an external resource: {found[0][:120]}")
    return page
