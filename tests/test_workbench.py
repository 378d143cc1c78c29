"""``access15 serve``: the JSON API (every endpoint, bad input), a real uvicorn on 127.0.0.1 under load,
the page in headless Chromium with every other request blocked, and the CLI ``--scenario`` hooks."""

from __future__ import annotations

import json
import socket
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

with warnings.catch_warnings():  # starlette 1.x suggests httpx2; httpx is what the TestClient runs on here
    warnings.simplefilter("ignore", DeprecationWarning)
    from starlette.testclient import TestClient
from typer.testing import CliRunner

from access15 import analyze
from access15.cli import app as cli_app
from access15.maps.html import band_classes, band_edges, band_legend
from access15.scenario import Scenario
from access15.serve import MAX_BODY, Workbench, create_app
from access15.siting import check_sites, load_site_context
from access15.text import TEXT, t

from .scenario_project import demo_project

SITE = (-51.18057, -30.04147)
#: Requests of the loopback load test (bounded in count; the test also bounds its time).
N_LOAD = 300


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return demo_project(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def ctx(project):
    return load_site_context(project)


@pytest.fixture()
def bench(ctx, tmp_path):
    return Workbench(ctx, tmp_path / "wb")


@pytest.fixture()
def client(bench):
    return TestClient(create_app(bench))


def _busiest_clinic(result) -> str:
    near = result.demand.groupby("nearest_clinic")["weight"].sum()
    return str(near.drop(labels=[""], errors="ignore").idxmax())


def _cov(fig: dict, cat: str) -> dict:
    return next(r for r in fig["coverage"] if r["category"] == cat)


def test_every_endpoint(client, bench, ctx):
    page = client.get("/")
    assert page.status_code == 200 and "L.map(" in page.text
    assert "https://" not in page.text.replace("https://leafletjs.com", "").replace("https://www.openstreetmap.org", "") \
        or "<script src=\"http" not in page.text  # nothing loaded from a CDN
    assert '<script src="http' not in page.text and '<link rel="stylesheet" href="http' not in page.text
    init = client.get("/api/init").json()
    assert [c["key"] for c in init["categories"]] == list(ctx.result.config.categories)
    assert len(init["cells"]["lon"]) == len(ctx.result.demand) and len(init["facilities"]) == len(ctx.result.facilities)
    fig = client.get("/api/figures?layer=clinic").json()["figures"]
    assert _cov(fig, "clinic")["delta"] == 0 and fig["layer"] == "clinic"
    assert len(fig["gaps"]) == int(((~ctx.result.demand["covered_clinic"]) & (ctx.result.demand["weight"] > 0)).sum())

    added = client.post("/api/sites", json={"category": "clinic", "lon": SITE[0], "lat": SITE[1], "name": "New clinic",
                                            "capacity": 40, "year": 2027}).json()
    pid, fig = added["id"], added["figures"]
    check = check_sites(ctx, "clinic", [SITE]).table.iloc[0]
    assert _cov(fig, "clinic")["delta"] == pytest.approx(check["newly_covered"], rel=1e-9)
    assert client.get("/api/figures?year=2026").json()["figures"]["coverage"][0]["delta"] == 0  # not open yet
    moved = client.patch(f"/api/sites/{pid}", json={"lon": SITE[0] + 0.003, "lat": SITE[1]}).json()["figures"]
    assert moved["scenario"]["added"][0]["lon"] == pytest.approx(SITE[0] + 0.003)
    assert _cov(moved, "clinic")["covered"] != _cov(fig, "clinic")["covered"]

    fid = _busiest_clinic(ctx.result)
    closed = client.post("/api/closures", json={"facility_id": fid, "year": 2030}).json()["figures"]
    assert closed["closed"] == [fid] and closed["years"] == [2027, 2030]
    reopened = client.delete(f"/api/closures/{fid}").json()["figures"]
    assert reopened["closed"] == [] and _cov(reopened, "clinic")["covered"] == _cov(moved, "clinic")["covered"]

    sugg = client.post("/api/suggest", json={"category": "school", "k": 2}).json()["suggested"]
    assert [s["rank"] for s in sugg] == [1, 2] and all(s["newly_covered"] > 0 for s in sugg)

    saved = client.post("/api/scenario/save", json={"name": "../../etc/passwd"}).json()
    assert "/" not in saved["file"] and saved["file"].endswith(".geojson")
    path = bench.scenario_dir / saved["file"]
    assert path.is_file() and Scenario.load(path).name == "../../etc/passwd"
    listed = client.get("/api/scenarios").json()["scenarios"]
    assert [s["file"] for s in listed] == [saved["file"]]
    assert client.post("/api/scenario/new", json={}).json()["figures"]["scenario"]["added"] == []
    loaded = client.post("/api/scenario/load", json={"file": saved["file"]}).json()["figures"]
    assert loaded["scenario"]["added"][0]["id"] == pid
    assert client.delete(f"/api/sites/{pid}").json()["figures"]["scenario"]["added"] == []

    client.post("/api/scenario/load", json={"file": saved["file"]})
    exp = client.post("/api/export?year=2027", json={}).json()
    folder = Path(exp["folder"])
    assert folder.parent.parent == bench.scenario_dir and {"map.html", "coverage.csv", "scenario.geojson"} <= set(exp["files"])
    assert {"gap_maps.pdf", "gap_clinic.png", "gap_combined.png"} <= set(exp["files"])  # the print maps too
    assert (folder / "gap_maps.pdf").stat().st_size > 10_000
    html = (folder / "map.html").read_text(encoding="utf-8")
    assert "Scenario &#x27;../../etc/passwd&#x27; (plan year 2027): +1 clinic (New clinic)" in html or \
        "(plan year 2027): +1 clinic (New clinic)" in html
    cov = pd.read_csv(folder / "coverage.csv").set_index("category")
    fig27 = client.get("/api/figures?year=2027").json()["figures"]
    assert cov.loc["clinic", "covered"] == pytest.approx(_cov(fig27, "clinic")["covered"], rel=1e-6)


@pytest.mark.parametrize("method,url,body,status,message", [
    ("post", "/api/sites", {"category": "clinc", "lon": -51.18, "lat": -30.04}, 422, "did you mean 'clinic'"),
    ("post", "/api/sites", {"category": "clinic", "lon": -51.18, "lat": -95.0}, 422, "out of range"),
    ("post", "/api/sites", {"category": "clinic", "lon": 30.04, "lat": 151.18}, 422, "look swapped"),
    ("post", "/api/sites", {"category": "clinic", "lon": "x", "lat": -30.04}, 422, "not a longitude"),
    ("post", "/api/sites", {"category": "clinic", "lon": -51.18}, 422, "lon and lat"),
    ("post", "/api/sites", {"category": "clinic", "lon": -51.18, "lat": -30.04, "capacity": -5}, 422, "non-negative"),
    ("post", "/api/sites", {"category": "clinic", "lon": -51.18, "lat": -30.04, "year": 20270}, 422, "not a year"),
    ("post", "/api/sites", {"category": "clinic", "lon": -51.18, "lat": -30.04, "path": "/etc"}, 422, "unknown field"),
    ("post", "/api/sites", [1, 2], 400, "JSON object"),
    ("patch", "/api/sites/p99", {"lon": -51.18, "lat": -30.04}, 404, "no proposed site"),
    ("delete", "/api/sites/p99", None, 404, "no proposed site"),
    ("post", "/api/closures", {"facility_id": "nope"}, 404, "no existing facility"),
    ("post", "/api/closures", {}, 422, "facility_id is required"),
    ("delete", "/api/closures/nope", None, 404, "not closed"),
    ("post", "/api/suggest", {"category": "clinic", "k": 1000}, 422, "k must be"),
    ("post", "/api/scenario/load", {"file": "../../../etc/passwd"}, 404, "no saved scenario"),
    ("get", "/api/figures?year=abc", None, 422, "not a year"),
    ("get", "/api/figures?layer=nope", None, 422, "unknown category"),
    ("get", "/api/figures?bands=clinc", None, 422, "did you mean 'clinic'"),
    ("get", "/api/compare", None, 422, "with=baseline"),
    ("get", "/api/compare?with=nope.geojson", None, 404, "no saved scenario"),
    ("get", "/api/compare?with=baseline&year=x", None, 422, "not a year"),
    ("get", "/api/figures?units=street", None, 422, "no [boundaries]"),
    ("get", "/api/nothing", None, 404, "Not Found"),
])
def test_bad_requests_get_a_clear_4xx(client, method, url, body, status, message):
    kw = {} if body is None else {"json": body}
    r = getattr(client, method)(url, **kw) if method != "delete" else client.delete(url)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    assert client.get("/api/figures").status_code == 200  # still serving


def test_compare_endpoint(client, bench, ctx, tmp_path):
    """``GET /api/compare``: the current scenario against a saved one or the baseline, gained and lost as
    :func:`~access15.compare.compare_scenarios` gives them; only names from the listing are ever read."""
    from access15.compare import compare_scenarios

    fid = _busiest_clinic(ctx.result)
    client.post("/api/sites", json={"category": "clinic", "lon": SITE[0], "lat": SITE[1]})
    saved = client.post("/api/scenario/save", json={"name": "one site"}).json()["file"]
    client.post("/api/closures", json={"facility_id": fid})
    client.post("/api/sites", json={"category": "clinic", "lon": -51.20, "lat": -30.05})
    cmp = client.get(f"/api/compare?with={saved}").json()["comparison"]
    want = compare_scenarios(bench.engine, bench.scenario, Scenario.load(bench.scenario_dir / saved)).categories
    got = pd.DataFrame(cmp["categories"]).set_index("category")
    for col in ("covered_a", "covered_b", "gained", "lost", "net"):
        assert np.allclose(got[col], want.set_index("category")[col], rtol=1e-12), col
    assert got.loc["clinic", "gained"] > 0 and got.loc["clinic", "lost"] > 0  # the closure loses, the site gains
    assert cmp["a"].startswith("Scenario 'one site'") and "one site" in cmp["explain"]
    # against the baseline: net is the panel's change against the baseline
    fig = client.get("/api/figures").json()["figures"]
    base = client.get("/api/compare?with=baseline").json()["comparison"]
    for row in base["categories"]:
        assert row["net"] == pytest.approx(_cov(fig, row["category"])["delta"], abs=1e-6)
        assert row["gained"] - row["lost"] == pytest.approx(row["net"], abs=1e-9)
    # a valid scenario outside the scenarios folder is never read, however it is named
    outside = bench.out_dir / "x.geojson"
    Scenario.load(bench.scenario_dir / saved).save(outside)
    for name in ("../x.geojson", str(outside), "..%2Fx.geojson", "./" + saved):
        r = client.get("/api/compare", params={"with": name})
        assert r.status_code == 404 and "no saved scenario" in r.json()["error"], name
    assert client.get("/api/figures").status_code == 200


def test_malformed_and_huge_bodies(client):
    r = client.post("/api/sites", content=b'{"category": "clinic", "lon": ', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "malformed JSON" in r.json()["error"]
    r = client.post("/api/sites", content=b"\xff\xfe", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = client.post("/api/sites", content=b" " * (MAX_BODY + 1))
    assert r.status_code == 413 and "too large" in r.json()["error"]

    def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(20):
            yield b"x" * 8192
    r = client.post("/api/sites", content=chunks())
    assert r.status_code == 413
    assert client.get("/api/figures").status_code == 200


def test_concurrent_edits_keep_state_consistent(bench, client):
    """Eight threads adding and moving sites at once (as two tabs would): every add is kept, ids unique."""
    def work(i):
        r = client.post("/api/sites", json={"category": "school", "lon": -51.17 + 0.001 * i, "lat": -30.06})
        assert r.status_code == 200
        pid = r.json()["id"]
        assert client.patch(f"/api/sites/{pid}", json={"lon": -51.17 + 0.001 * i, "lat": -30.061}).status_code == 200
        assert client.post("/api/scenario/save", json={}).status_code == 200
        return pid
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(work, range(16)))
    assert len(set(ids)) == 16 and len(bench.scenario.added) == 16
    for p in bench.scenario_dir.glob("*.geojson"):  # every saved file is complete
        json.loads(p.read_text(encoding="utf-8"))
    assert not list(bench.scenario_dir.glob(".tmp*"))


class _Server:
    """The app on a real uvicorn bound to 127.0.0.1 (a free port) in a thread."""

    def __init__(self, app):
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        t0 = time.time()
        while not self.server.started:
            assert time.time() - t0 < 20, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def test_load_on_loopback(bench, tmp_path):
    """300 edit/figure requests at concurrency 8 against 127.0.0.1: no errors; p95 printed (docs/performance.md)."""
    import httpx

    with _Server(create_app(bench)) as srv, httpx.Client(base_url=srv.url, timeout=30) as http:
        assert http.post("/api/sites", json={"category": "clinic", "lon": SITE[0], "lat": SITE[1]}).status_code == 200

        def one(i):
            t0 = time.perf_counter()
            if i % 2:  # a drag: a new bounded search
                r = http.patch("/api/sites/p1", json={"lon": SITE[0] + 0.0005 * (i % 40), "lat": SITE[1]})
            else:
                r = http.get(f"/api/figures?layer={'clinic' if i % 4 else 'combined'}")
            return r.status_code, time.perf_counter() - t0

        t0 = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            out = list(pool.map(one, range(N_LOAD)))
        wall = time.perf_counter() - t0
    codes = [c for c, _ in out]
    lat = np.array([s for _, s in out])
    p95 = float(np.percentile(lat, 95))
    (tmp_path / "load.json").write_text(json.dumps({"p50": float(np.median(lat)), "p95": p95, "wall": wall}))
    print(f"\nload test: {N_LOAD} requests, concurrency 8: p50 {1000 * np.median(lat):.0f} ms, p95 {1000 * p95:.0f} ms, "
          f"{wall:.1f} s")
    assert codes == [200] * N_LOAD
    assert wall < 90


def test_exported_map_opens_offline_in_chromium(client, ctx):
    """The exported scenario map is a briefing file: it opens with the network blocked, draws without errors,
    names the scenario in its legend and shows the proposed site beside the existing facilities."""
    from .browser import open_offline, require_browser

    exe = require_browser()
    client.post("/api/sites", json={"category": "clinic", "lon": SITE[0], "lat": SITE[1], "name": "New clinic",
                                    "year": 2027})
    client.post("/api/scenario/save", json={"name": "Briefing"})
    folder = Path(client.post("/api/export?year=2027", json={}).json()["folder"])
    rep = open_offline(folder / "map.html", executable=exe)
    assert rep.errors == [], rep.errors
    assert rep.blocked == [], "the exported map asked for network resources: " + ", ".join(rep.blocked)
    d = rep.data
    assert "Scenario 'Briefing' (plan year 2027): +1 clinic (New clinic)" in d["legend"]
    assert d["markers"] == int(ctx.result.facilities["on_network"].count()) + 1
    assert d["images"] >= 2 and d["map_size"][0] > 1000


def test_page_in_chromium(bench, ctx, tmp_path):
    """Add a site by clicking the map, close a clinic, save, reload: the panel's figures are check_sites' and
    a re-run's; nothing but the local server is requested; no console errors."""
    from .browser import CHROMIUM_ARGS, require_browser

    exe = require_browser()
    from playwright.sync_api import sync_playwright

    res = ctx.result
    fid = _busiest_clinic(res)
    fac = res.facilities
    with _Server(create_app(bench)) as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        blocked, errors = [], []
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r):
                if r.request.url.startswith(srv.url + "/"):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()
            page.route("**/*", route)
            page.goto(srv.url + "/", wait_until="load")
            page.wait_for_function("window.access15wb && window.access15wb.ready", timeout=20000)
            page.select_option("#add-cat", "clinic")
            page.select_option("#layer", "clinic")
            page.wait_for_function("window.access15wb.figures.layer === 'clinic'")
            # the travel-time bands of the clinic circle: map.html's legend and classes
            page.select_option("#bands", "clinic")
            page.wait_for_function("window.access15wb.figures.bands === 'clinic'")
            assert page.locator("#band-legend").is_visible()
            lang = res.config.output.lang
            legend = band_legend(res.config.max_minutes, lang)
            assert page.inner_text("#band-legend .title") == t(lang, "travel_time", label=res.config.categories["clinic"].label(lang))
            rows = page.eval_on_selector_all("#band-legend div:not(.title)", "ds => ds.map(d => d.textContent)")
            assert rows == [label for _, label in legend]
            before = page.evaluate("window.access15wb.figures.band_codes")
            minutes = res.demand["time_clinic"].round(3).to_numpy()
            assert before == "".join(str(c + 1) for c in band_classes(minutes, band_edges(res.config.max_minutes)))
            # click the map where the demo site is
            to_px = "([lat, lon]) => { const p = window.access15wb.map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }"
            xy = page.evaluate(to_px, [SITE[1], SITE[0]])
            box = page.locator("#map").bounding_box()
            page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])
            page.wait_for_function("window.access15wb.figures.scenario.added.length === 1")
            added = page.evaluate("window.access15wb.figures.scenario.added[0]")
            check = check_sites(ctx, "clinic", [(added["lon"], added["lat"])]).table.iloc[0]
            assert check["status"] == "ok"
            shown = page.inner_text("#cov-clinic .delta").split()[0]
            assert shown == f"+{check['newly_covered']:,.0f}"
            # the bands follow the edit: the cell at the new site is now in the first band, drawn in its colour
            after = page.evaluate("window.access15wb.figures.band_codes")
            near = int(np.argmin(np.hypot(*(np.array(page.evaluate("[window.access15wb.init.cells.lon, "
                                                                   "window.access15wb.init.cells.lat]"))
                                            - np.array([[added["lon"]], [added["lat"]]])))))
            assert after != before and after.count("1") > before.count("1") and after[near] == "1"
            pixel = page.evaluate("""(i) => { const wb = window.access15wb, c = wb.init.cells;
                const p = wb.map.latLngToContainerPoint([c.lat[i], c.lon[i]]);
                return Array.from(document.querySelector("canvas.band-canvas").getContext("2d")
                    .getImageData(Math.round(p.x), Math.round(p.y), 1, 1).data); }""", near)
            r, g, b, a = (float(v) for v in legend[0][0].removeprefix("rgba(").rstrip(")").split(","))
            assert np.allclose(pixel, [r, g, b, a * 255], atol=3), (pixel, legend[0][0])
            # close the busiest clinic by clicking its marker
            ll = fac.loc[fac["facility_id"].astype(str) == fid].to_crs(4326).geometry.iloc[0].coords[0]
            page.evaluate("([lat, lon]) => { window.access15wb.map.setView([lat, lon], 16); }", [ll[1], ll[0]])
            page.wait_for_timeout(200)
            f = page.evaluate("(id) => window.access15wb.init.facilities.find(f => f.id === id)", fid)
            xy = page.evaluate(to_px, [f["lat"], f["lon"]])
            page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])
            page.click("button.fac-toggle")
            page.wait_for_function("window.access15wb.figures.closed.length === 1")
            after_close = page.evaluate("window.access15wb.figures.coverage.find(r => r.category === 'clinic').covered")
            # the re-run without that clinic and with the site
            modified = bench.engine.apply(bench.scenario).facilities
            full = analyze(res.config, network=res.network, facilities=modified)
            assert after_close == full.coverage.set_index("category").loc["clinic", "covered"]
            assert page.inner_text("#cov-clinic .covered") == f"{round(after_close):,}"
            # compare with the baseline: gained and lost of the clinic circle, net = the change shown above
            page.select_option("#compare", "baseline")
            page.wait_for_function("window.access15wb.comparison && window.access15wb.comparison.with === 'baseline'")
            cmp = page.evaluate("window.access15wb.comparison.categories.find(r => r.category === 'clinic')")
            net = after_close - res.coverage.set_index("category").loc["clinic", "covered"]
            assert cmp["gained"] > 0 and cmp["lost"] > 0 and cmp["net"] == pytest.approx(net, abs=1e-6)
            assert page.inner_text("#cmp-clinic .net") == ("+" if round(net) > 0 else "") + f"{round(net):,}"
            assert page.inner_text("#cmp-clinic .lost") == f"{round(cmp['lost']):,}"
            # save, reload, find the scenario, load it
            page.fill("#sc-name", "browser test")
            page.click("#save")
            page.wait_for_function("document.getElementById('files').textContent.startsWith('saved')")
            page.click("#new")
            page.wait_for_function("window.access15wb.figures.scenario.added.length === 0")
            page.reload(wait_until="load")
            page.wait_for_function("window.access15wb && window.access15wb.ready", timeout=20000)
            options = page.eval_on_selector_all("#saved option", "os => os.map(o => o.textContent)")
            assert any(o.startswith("browser test") for o in options)
            page.click("#load")
            page.wait_for_function("window.access15wb.figures.closed.length === 1 && "
                                   "window.access15wb.figures.scenario.added.length === 1")
            assert page.inner_text("#cov-clinic .covered") == f"{round(after_close):,}"
            page.screenshot(path=str(tmp_path / "workbench.png"))
        finally:
            browser.close()
    assert blocked == [] and errors == []


def test_unit_choropleth_in_chromium(tmp_path_factory, tmp_path):
    """With boundaries (the Haidian tutorial, two levels, Chinese): the page draws map.html's unit choropleth
    (its classes, colours and legend) for the gap layer's circle, and it follows an edit."""
    from playwright.sync_api import sync_playwright

    from access15.maps.html import share_colour, share_legend

    from .browser import CHROMIUM_ARGS, require_browser

    exe = require_browser()
    hctx = load_site_context(demo_project(tmp_path_factory.getbasetemp(), "tutorial_haidian"))
    hb = Workbench(hctx, tmp_path / "wb")
    res = hctx.result
    fid = _busiest_clinic(res)
    with _Server(create_app(hb)) as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        errors = []
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(srv.url + "/") else r.abort())
            page.goto(srv.url + "/", wait_until="load")
            page.wait_for_function("window.access15wb && window.access15wb.ready", timeout=20000)
            # the whole page in the config's language: every labelled element holds its Chinese word
            assert page.evaluate("document.documentElement.lang") == "zh-CN"
            labelled = page.eval_on_selector_all("[data-t]:not(#status)", "es => es.map(e => [e.dataset.t, e.textContent])")
            assert len(labelled) > 20 and all(text == TEXT["zh"]["page"][key] for key, text in labelled), labelled
            assert page.inner_text("#save") == "保存" and page.get_attribute("#add-name", "placeholder") == "可选"
            assert page.inner_text("#status").startswith("方案")  # the scenario's description, in Chinese
            page.select_option("#layer", "clinic")
            page.select_option("#unit-level", "street")
            page.wait_for_function("window.access15wb.figures.units_level === 'street' && "
                                   "window.access15wb.figures.layer === 'clinic'")
            assert page.inner_text("#unit-legend .title") == t("zh", "choropleth", label="医疗卫生")
            rows = page.eval_on_selector_all("#unit-legend div:not(.title)", "ds => ds.map(d => d.textContent)")
            assert rows == [label for _, label in share_legend()]
            fills = "() => { const out = {}; window.access15wb.map.eachLayer(l => { if (l.feature && " \
                    "l.feature.properties.unit) out[l.feature.properties.unit] = l.options.fillColor; }); return out; }"

            def want(uc):
                rows = uc[(uc["level"] == "street") & (uc["category"] == "clinic")]
                return {u: share_colour(v) for u, v in zip(rows["unit"], rows["share_covered"])}

            before = page.evaluate(fills)
            assert before == want(res.unit_coverage) and len(before) == (res.boundaries["level"] == "street").sum()
            # close the clinic serving the most residents (as a second tab would): the choropleth follows
            page.evaluate("(id) => fetch('/api/closures', {method: 'POST', headers: {'Content-Type': "
                          "'application/json'}, body: JSON.stringify({facility_id: id})})", fid)
            page.select_option("#layer", "combined")  # two requests in flight: the page shows the last one's answer
            page.select_option("#layer", "clinic")
            page.wait_for_function("window.access15wb.figures.closed.length === 1 && "
                                   "window.access15wb.figures.layer === 'clinic'")
            page.wait_for_timeout(300)
            assert page.evaluate("window.access15wb.figures.layer") == "clinic"  # a late 'combined' answer is not shown
            after = page.evaluate(fills)
            assert after == want(hb.engine.apply(hb.scenario).unit_coverage) and after != before
        finally:
            browser.close()
    assert errors == []


def test_cli_run_and_site_check_with_a_scenario(project, ctx, tmp_path):
    res = ctx.result
    fid = _busiest_clinic(res)
    sc_path = tmp_path / "plan.geojson"
    sc_path.write_text(json.dumps({"type": "FeatureCollection", "name": "plan", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(SITE)},
         "properties": {"action": "add", "id": "p1", "category": "school", "year": 2027}},
        {"type": "Feature", "geometry": None, "properties": {"action": "close", "facility_id": fid}}]}))
    runner = CliRunner()
    out = tmp_path / "run"
    r = runner.invoke(cli_app, ["run", str(project), "--scenario", str(sc_path), "--year", "2027", "--out", str(out)])
    assert r.exit_code == 0, r.output
    got = pd.read_csv(out / "coverage.csv").set_index("category")
    from access15.scenario import ScenarioEngine

    engine = ScenarioEngine(ctx)
    sr = engine.apply(Scenario.load(sc_path), 2027)
    full = analyze(res.config, network=res.network, facilities=sr.facilities)
    want = full.coverage.set_index("category")
    assert np.allclose(got["covered"], want["covered"], rtol=1e-6, atol=0)
    assert "(plan year 2027): +1 school (p1); -1 closed" in (out / "map.html").read_text(encoding="utf-8")
    # site-check against the scenario: the clinic circle without the closed clinic
    r = runner.invoke(cli_app, ["site-check", str(project), "--category", "clinic", f"--at={SITE[0]},{SITE[1]}",
                                "--scenario", str(sc_path), "--no-html", "--out", str(tmp_path / "chk")])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(tmp_path / "chk" / "site_check.csv")
    share_before = want.loc["clinic", "covered"] / want.loc["clinic", "demand"]
    assert table["share_before"].iat[0] == pytest.approx(share_before, rel=1e-5)  # CSV keeps 6 digits
    bad = runner.invoke(cli_app, ["run", str(project), "--scenario", str(tmp_path / "missing.geojson")])
    assert bad.exit_code == 2 and "cannot read the scenario" in bad.output


def test_serve_refuses_a_busy_port_and_warns_when_exposed(project):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = CliRunner().invoke(cli_app, ["serve", str(project), "--port", str(port)], env={"ACCESS15_LANG": "en"})
        assert r.exit_code == 2 and "cannot listen" in r.output
        with socket.socket() as probe:  # all addresses on a port busy on loopback: refused here, never served
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            exposed_refused = _bind_fails(probe, port)
        if exposed_refused:
            r = CliRunner().invoke(cli_app, ["serve", str(project), "--port", str(port), "--host", "0.0.0.0"],
                                   env={"ACCESS15_LANG": "zh"})
            assert r.exit_code == 2 and "工作台可从其他机器" in r.output and "没有登录保护" in r.output
            assert "无法在 0.0.0.0:" in r.output


def _bind_fails(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind(("0.0.0.0", port))
    except OSError:
        return True
    return False
