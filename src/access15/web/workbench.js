// access15 workbench: vanilla JavaScript over the local JSON API (see access15/serve.py).
(function () {
  "use strict";
  const COLORS = ["#1f77b4", "#9467bd", "#ff7f0e", "#2ca02c", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const fmt = (v) => (v == null ? "–" : Math.round(v).toLocaleString("en-US"));
  const pct = (v) => (v == null ? "–" : (100 * v).toFixed(1) + "%");
  const wb = { ready: false, figures: null, init: null, requests: 0, errors: [] };
  window.access15wb = wb;
  // every word of the page comes from the server (text.TEXT "page", in the config's language): T("key", {n: 3})
  const T = (key, vars) => {
    let s = (wb.init && wb.init.text && wb.init.text[key]) || key;
    for (const k in vars || {}) s = s.split("{" + k + "}").join(String(vars[k]));
    return s;
  };

  function status(text, isError) {
    const el = $("status");
    el.textContent = text;
    el.className = isError ? "error" : "";
  }

  function query() {
    const p = new URLSearchParams();
    if ($("year").value) p.set("year", $("year").value);
    p.set("layer", $("layer").value || "combined");
    if ($("bands").value) p.set("bands", $("bands").value);
    if ($("unit-level").value) p.set("units", $("unit-level").value);
    return "?" + p.toString();
  }

  let issued = 0, shown = 0;  // answers shown in the order their requests were sent: a late answer is stale
  async function api(method, path, body) {
    wb.requests += 1;
    const seq = ++issued;
    const opts = { method: method, headers: {} };
    if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
    const t0 = performance.now();
    const r = await fetch(path + (path.indexOf("?") < 0 ? query() : ""), opts);
    const data = await r.json();
    if (!r.ok) {
      const msg = data && data.error ? data.error : r.status + " " + r.statusText;
      wb.errors.push(msg);
      status(msg, true);
      throw new Error(msg);
    }
    if (data.figures && seq > shown) { shown = seq; show(data.figures, performance.now() - t0); }
    return data;
  }

  // --- map ---------------------------------------------------------------------------------------
  const map = L.map("map", { zoomAnimation: false, preferCanvas: true });
  wb.map = map;
  L.control.scale({ imperial: false }).addTo(map);

  // demand cells drawn on a canvas: `paint(i)` gives cell i's fill (or null), over `cells` indices
  const CellLayer = L.Layer.extend({
    initialize: function (options) { L.setOptions(this, options); },
    onAdd: function (m) {
      this._c = L.DomUtil.create("canvas", "gap-canvas " + (this.options.className || ""));
      m.getPanes().overlayPane.appendChild(this._c);
      m.on("moveend zoomend resize", this._redraw, this);
      this._redraw();
    },
    onRemove: function (m) { this._c.remove(); m.off("moveend zoomend resize", this._redraw, this); },
    setCells: function (idx, paint) { this._idx = idx; this._paint = paint; if (this._map) this._redraw(); },
    _redraw: function () {
      const m = this._map, c = this._c, cells = wb.init && wb.init.cells;
      if (!m || !cells) return;
      const size = m.getSize();
      L.DomUtil.setPosition(c, m.containerPointToLayerPoint([0, 0]));
      c.width = size.x; c.height = size.y;
      const g = c.getContext("2d");
      g.clearRect(0, 0, size.x, size.y);
      const idx = this._idx || [], half = cells.half || [0.0003, 0.0003];
      for (let k = 0; k < idx.length; k++) {
        const i = idx[k];
        const fill = this._paint(i);
        if (!fill) continue;
        const a = m.latLngToContainerPoint([cells.lat[i] + half[1], cells.lon[i] - half[0]]);
        const b = m.latLngToContainerPoint([cells.lat[i] - half[1], cells.lon[i] + half[0]]);
        if (b.x < 0 || a.x > size.x || b.y < 0 || a.y > size.y) continue;
        g.fillStyle = fill;
        g.fillRect(a.x, a.y, Math.max(1, b.x - a.x), Math.max(1, b.y - a.y));
      }
    }
  });
  const GapLayer = CellLayer.extend({
    setIdx: function (idx) {
      const cells = wb.init.cells, top = wb.weightTop || 1;
      this.setCells(idx, (i) => "rgba(214,39,40," + (0.18 + 0.6 * Math.min(1, cells.weight[i] / top)).toFixed(2) + ")");
    }
  });
  // travel-time bands of one category: the classes and colours of map.html (access15.maps.html.band_legend)
  const BandLayer = CellLayer.extend({
    setCodes: function (codes) {
      const cls = wb.init.bands.classes, idx = [];
      for (let i = 0; i < codes.length; i++) if (codes.charCodeAt(i) > 48) idx.push(i);
      this.setCells(idx, (i) => cls[codes.charCodeAt(i) - 49].colour);
    }
  });
  const bandLayer = new BandLayer({ className: "band-canvas" }).addTo(map);
  // unit choropleth: the share covered in the gap layer's circle, map.html's classes (maps.html.share_legend)
  let unitLayer = null, unitLevel = null;
  function showUnits(fig) {
    const lvl = fig.units_level, fill = fig.unit_fill || {};
    if (lvl !== unitLevel) {
      if (unitLayer) { unitLayer.remove(); unitLayer = null; }
      unitLevel = lvl;
      if (lvl) {
        unitLayer = L.geoJSON(wb.init.units.geo[lvl], { interactive: true });  // clicks still reach the map (adding)
        unitLayer.addTo(map);
        unitLayer.bringToBack();
      }
    }
    if (unitLayer) {
      unitLayer.eachLayer((l) => {
        const u = fill[l.feature.properties.unit] || { colour: "#bdbdbd", share: null };
        l.setStyle({ color: "#333", weight: 1, fillColor: u.colour, fillOpacity: 0.65 });
        l.bindTooltip(esc(l.feature.properties.unit) + ": " + pct(u.share), { sticky: true });
      });
    }
    const d = $("unit-legend");
    if (!d) return;
    d.hidden = !lvl;
    if (!lvl) return;
    const un = wb.init.units;
    d.innerHTML = "<div class='title'>" + esc(un.layers[fig.layer]) + "</div>" + un.classes.map((c) =>
      "<div><i style='background:" + c.colour + "'></i>" + esc(c.label) + "</div>").join("");
  }
  const gaps = new GapLayer().addTo(map);
  const facLayer = L.layerGroup().addTo(map);
  const siteLayer = L.layerGroup().addTo(map);
  const suggLayer = L.layerGroup().addTo(map);
  const facMarkers = {};
  let catColor = {};

  function siteIcon(color, text, sugg) {
    return L.divIcon({ className: "", iconSize: [18, 18], iconAnchor: [9, 18], popupAnchor: [0, -16],
      html: '<div class="wb-site' + (sugg ? " sugg" : "") + '" style="background:' + color + '"><span>' + esc(text) + "</span></div>" });
  }

  function drawFacilities() {
    facLayer.clearLayers();
    for (const f of wb.init.facilities) {
      const m = L.circleMarker([f.lat, f.lon], { radius: 5, weight: 1.5, color: "#222", fillColor: catColor[f.category],
        fillOpacity: 0.9, bubblingMouseEvents: false });
      m.on("click", () => facilityPopup(f, m));
      m.addTo(facLayer);
      facMarkers[f.id] = m;
    }
  }

  function closedIds() { return new Set((wb.figures ? wb.figures.scenario.closed : []).map((c) => c.facility_id)); }

  function facilityPopup(f, m) {
    const closed = closedIds().has(f.id);
    const div = document.createElement("div");
    div.innerHTML = "<b>" + esc(f.name || f.id) + "</b><br>" + esc(f.category) + " · id " + esc(f.id) +
      (f.on_network ? "" : "<br><i>" + esc(T("off_network")) + "</i>") + "<br>";
    const yr = document.createElement("input");
    yr.type = "number"; yr.placeholder = T("from_year"); yr.style.width = "80px";
    const btn = document.createElement("button");
    btn.className = "fac-toggle";
    btn.textContent = closed ? T("reopen") : T("close");
    btn.onclick = async () => {
      map.closePopup();
      try {
        if (closed) await api("DELETE", "/api/closures/" + encodeURIComponent(f.id));
        else await api("POST", "/api/closures", { facility_id: f.id, year: yr.value ? Number(yr.value) : null });
      } catch (e) { /* shown in the status line */ }
    };
    if (!closed) div.appendChild(yr);
    div.appendChild(btn);
    m.bindPopup(div).openPopup();
  }

  function drawSites(fig) {
    siteLayer.clearLayers();
    const st = {};
    for (const s of fig.sites) st[s.id] = s;
    fig.scenario.added.forEach((p) => {
      const active = st[p.id];
      const mk = L.marker([p.lat, p.lon], { draggable: true, icon: siteIcon(catColor[p.category], p.id.replace("p", ""), false),
        opacity: active ? 1 : 0.45, title: p.name || p.id });
      mk.on("dragend", async () => {
        const ll = mk.getLatLng();
        try { await api("PATCH", "/api/sites/" + encodeURIComponent(p.id), { lon: ll.lng, lat: ll.lat }); } catch (e) { /* shown */ }
      });
      const div = document.createElement("div");
      div.innerHTML = "<b>" + esc(p.name || T("proposed", { id: p.id })) + "</b><br>" + esc(p.category) +
        (p.capacity != null ? " · " + esc(T("n_places", { n: p.capacity })) : "") +
        (p.year ? " · " + esc(T("opens_year", { year: p.year })) : "") +
        (active && active.status !== "ok" ? '<br><span class="bad">' + esc(active.message) + "</span>" : "") +
        (active ? "" : "<br><i>" + esc(T("not_open")) + "</i>") + "<br>";
      const del = document.createElement("button");
      del.textContent = T("delete");
      del.onclick = async () => { map.closePopup(); try { await api("DELETE", "/api/sites/" + encodeURIComponent(p.id)); } catch (e) { /* shown */ } };
      div.appendChild(del);
      mk.bindPopup(div);
      mk.addTo(siteLayer);
    });
  }

  function styleFacilities(fig) {
    const closed = closedIds();
    for (const id in facMarkers) {
      const c = closed.has(id);
      facMarkers[id].setStyle({ fillColor: c ? "#fff" : catColor[facMarkers[id]._cat || ""] || facMarkers[id].options.fillColor,
        dashArray: c ? "2 2" : null, color: c ? "#b00020" : "#222" });
    }
  }

  // --- panel -------------------------------------------------------------------------------------
  function show(fig, ms) {
    wb.figures = fig;
    gaps.setIdx(fig.gaps);
    bandLayer.setCodes(fig.band_codes || "");
    showBandLegend(fig.bands);
    showUnits(fig);
    if ($("compare").value) loadCompare();
    const tb = $("coverage").querySelector("tbody");
    tb.innerHTML = "";
    for (const r of fig.coverage) {
      const tr = document.createElement("tr");
      tr.id = "cov-" + r.category;
      const d = r.delta || 0;
      tr.innerHTML = "<td>" + esc(r.label) + (r.minutes ? " <span class='hint'>" + esc(r.minutes) + " min</span>" : "") + "</td>" +
        "<td>" + r.facilities + "</td><td class='covered'>" + fmt(r.covered) + "</td><td class='share'>" + pct(r.share) + "</td>" +
        "<td class='delta " + (d > 0.5 ? "up" : d < -0.5 ? "down" : "") + "'>" + (d > 0 ? "+" : "") + fmt(d) +
        " <span class='hint'>" + (r.share - r.base_share >= 0 ? "+" : "") + (100 * (r.share - r.base_share)).toFixed(2) + " " + esc(T("pt")) + "</span></td>";
      tb.appendChild(tr);
    }
    $("cov-note").textContent = wb.init.demand_label;
    const tg = $("targets");
    if (!fig.has_targets) tg.innerHTML = "<span class='hint'>" + esc(T("no_targets")) + "</span>";
    else {
      tg.innerHTML = "<table><thead><tr>" + ["th_target", "th_scope", "th_figure", "th_target_value"].map((k) =>
        "<th>" + esc(T(k)) + "</th>").join("") + "<th></th></tr></thead><tbody>" +
        fig.targets.map((t) => "<tr><td>" + esc(t.target) + "</td><td>" + esc(t.unit || t.level) + "</td><td>" +
          (t.measure === "coverage" || t.measure === "unit_share" ? pct(t.figure) : esc(t.figure == null ? "–" : Number(t.figure).toFixed(2))) +
          "</td><td>" + (t.measure === "coverage" || t.measure === "unit_share" ? pct(t.target_value) : esc(t.target_value)) + "</td><td class='" +
          (t.met === true ? "met" : t.met === false ? "notmet" : "") + "'>" + esc(t.met === true ? T("met") : t.met === false ? T("not_met") : t.status) +
          "</td></tr>").join("") + "</tbody></table>";
    }
    const un = $("units");
    if (!fig.has_units) un.innerHTML = "<span class='hint'>" + esc(T("no_units")) + "</span>";
    else {
      const cats = wb.init.categories.map((c) => c.key);
      un.innerHTML = "<table><thead><tr><th>" + esc(T("th_unit")) + "</th><th>" + esc(T("th_all_req")) + "</th>" + cats.map((c) => "<th>" + esc(c) + "</th>").join("") +
        "</tr></thead><tbody>" + fig.units.map((u) => "<tr><td>" + esc(u.unit) + "</td><td>" + pct(u.share) + "</td>" +
          cats.map((c) => "<td>" + pct(u.shares ? u.shares[c] : null) + "</td>").join("") + "</tr>").join("") + "</tbody></table>" +
        (fig.units_total > fig.units.length ? "<span class='hint'>" + esc(T("n_of_units", { n: fig.units.length, total: fig.units_total })) + "</span>" : "");
    }
    const ed = $("edits");
    ed.innerHTML = "";
    const st = {};
    for (const s of fig.sites) st[s.id] = s;
    for (const p of fig.scenario.added) {
      const li = document.createElement("li");
      const s = st[p.id];
      li.innerHTML = "+ " + esc(p.category) + " " + esc(p.name || p.id) + (p.year ? " (" + esc(p.year) + ")" : "") +
        (s && s.status !== "ok" ? " <span class='bad'>" + esc(s.message) + "</span>" : "") + (s ? "" : " <span class='hint'>" + esc(T("not_yet_open")) + "</span>");
      ed.appendChild(li);
    }
    for (const c of fig.scenario.closed) {
      const li = document.createElement("li");
      li.textContent = T("closed_edit", { id: c.facility_id }) + (c.year ? T("from_paren", { year: c.year }) : "");
      ed.appendChild(li);
    }
    $("notes").textContent = fig.notes.join(" ");
    if (document.activeElement !== $("sc-name")) $("sc-name").value = fig.scenario.name;
    fillYears(fig.years);
    drawSites(fig);
    styleFacilities(fig);
    status(fig.description + " · " + T("server_ms", { ms: fig.server_ms }) +
      (ms ? " · " + T("round_trip", { ms: Math.round(ms) }) : ""), false);
  }

  function showBandLegend(cat) {
    const d = $("band-legend");
    if (!d) return;
    d.hidden = !cat;
    if (!cat) return;
    const b = wb.init.bands;
    d.innerHTML = "<div class='title'>" + esc(b.layers[cat]) + "</div>" + b.classes.map((c) =>
      "<div><i style='background:" + c.colour + "'></i>" + esc(c.label) + "</div>").join("");
  }

  // --- comparison with a saved scenario or the baseline ---------------------------------------------
  let compareSeq = 0;
  async function loadCompare() {
    const other = $("compare").value, box = $("comparison");
    if (!other) { box.innerHTML = ""; wb.comparison = null; return; }
    const p = new URLSearchParams({ with: other });
    if ($("year").value) p.set("year", $("year").value);
    const seq = ++compareSeq;
    let d;
    try { d = await api("GET", "/api/compare?" + p.toString()); } catch (e) { return; }
    if (seq !== compareSeq) return;  // a later request answers for the current state
    const c = d.comparison, tx = wb.init.text;
    const sign = (v) => (v == null ? "–" : (v > 0 ? "+" : "") + fmt(v));
    box.innerHTML = "<div class='hint'>" + esc(c.explain) + "</div><table><thead><tr><th>" + esc(tx.category) +
      "</th><th>" + esc(tx.gained) + "</th><th>" + esc(tx.lost) + "</th><th>" + esc(tx.net) + "</th><th>" + esc(tx.points) +
      "</th></tr></thead><tbody>" + c.categories.map((r) => "<tr id='cmp-" + esc(r.category) + "'><td>" + esc(r.label) +
        "</td><td class='gained up'>" + fmt(r.gained) + "</td><td class='lost down'>" + fmt(r.lost) + "</td><td class='net'>" +
        sign(r.net) + "</td><td class='points'>" + (r.points == null ? "–" : (r.points >= 0 ? "+" : "") + r.points.toFixed(2)) +
        "</td></tr>").join("") + "</tbody></table>" +
      (c.units.length ? "<table><thead><tr><th>" + esc(tx.unit) + " · " + esc(tx.combined) + "</th><th>" + esc(tx.gained) +
        "</th><th>" + esc(tx.lost) + "</th><th>" + esc(tx.net) + "</th></tr></thead><tbody>" + c.units.slice(0, 12).map((u) =>
        "<tr><td>" + esc(u.unit) + "</td><td class='up'>" + fmt(u.gained) + "</td><td class='down'>" + fmt(u.lost) +
        "</td><td>" + sign(u.net) + "</td></tr>").join("") + "</tbody></table>" : "");
    wb.comparison = c;
  }

  function fillYears(years) {
    const sel = $("year"), cur = sel.value;
    const now = new Date().getFullYear();
    const all = new Set(years.concat([now, now + 2, now + 5]));
    if (cur) all.add(Number(cur));
    const want = [""].concat(Array.from(all).sort());
    const have = Array.from(sel.options).map((o) => o.value);
    if (want.join() === have.join()) return;
    sel.innerHTML = "";
    for (const y of want) {
      const o = document.createElement("option");
      o.value = y; o.textContent = y === "" ? T("all_edits") : String(y);
      sel.appendChild(o);
    }
    sel.value = cur;
  }

  // --- suggestions -------------------------------------------------------------------------------
  let suggested = [];
  function drawSuggested() {
    suggLayer.clearLayers();
    $("keep-all").hidden = $("drop-all").hidden = !suggested.length;
    suggested.forEach((s, i) => {
      const mk = L.marker([s.lat, s.lon], { icon: siteIcon(catColor[s.category], "S" + s.rank, true) });
      const div = document.createElement("div");
      div.innerHTML = "<b>" + esc(T("suggested_n", { rank: s.rank })) + "</b> " + esc(s.category) + "<br>" +
        esc(T("adds_after", { n: fmt(s.newly_covered), share: pct(s.share_after) })) + "<br>";
      const keep = document.createElement("button"), drop = document.createElement("button");
      keep.textContent = T("keep"); drop.textContent = T("drop");
      keep.onclick = () => { map.closePopup(); keepSuggested([i]); };
      drop.onclick = () => { map.closePopup(); suggested.splice(i, 1); drawSuggested(); };
      div.appendChild(keep); div.appendChild(drop);
      mk.bindPopup(div).addTo(suggLayer);
    });
  }
  async function keepSuggested(which) {
    const keep = which.map((i) => suggested[i]);
    suggested = suggested.filter((_, i) => which.indexOf(i) < 0);
    drawSuggested();
    for (const s of keep) {
      try { await api("POST", "/api/sites", { category: s.category, lon: s.lon, lat: s.lat, name: T("suggested_name", { site: s.site }) }); } catch (e) { return; }
    }
  }

  // --- wiring ------------------------------------------------------------------------------------
  function addFromForm(latlng) {
    const body = { category: $("add-cat").value, lon: latlng.lng, lat: latlng.lat };
    if ($("add-name").value.trim()) body.name = $("add-name").value.trim();
    if ($("add-cap").value !== "") body.capacity = Number($("add-cap").value);
    if ($("add-year").value !== "") body.year = Number($("add-year").value);
    return api("POST", "/api/sites", body).catch(() => null);
  }

  async function refreshSaved() {
    const d = await api("GET", "/api/scenarios");
    const sel = $("saved"), cmp = $("compare"), cur = cmp.value;
    sel.innerHTML = "";
    cmp.innerHTML = "";
    const opt = (parent, value, text) => {
      const o = document.createElement("option");
      o.value = value; o.textContent = text;
      parent.appendChild(o);
    };
    opt(cmp, "", wb.init.text.cmp_none);
    opt(cmp, "baseline", wb.init.text.cmp_baseline);
    for (const s of d.scenarios) {
      opt(sel, s.file, s.name + " · " + s.file.slice(0, 15));
      opt(cmp, s.file, s.name + " · " + s.file.slice(0, 15));
    }
    cmp.value = Array.from(cmp.options).some((o) => o.value === cur) ? cur : "";
  }

  async function start() {
    const init = await api("GET", "/api/init");
    wb.init = init;
    document.documentElement.lang = init.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = T(el.dataset.t); });
    document.querySelectorAll("[data-tp]").forEach((el) => { el.placeholder = T(el.dataset.tp); });
    init.categories.forEach((c, i) => { catColor[c.key] = COLORS[i % COLORS.length]; });
    const w = init.cells.weight.slice().sort((a, b) => a - b);
    wb.weightTop = w.length ? w[Math.floor(0.95 * (w.length - 1))] || 1 : 1;
    for (const sel of [$("add-cat"), $("layer")]) {
      if (sel === $("layer")) { const o = document.createElement("option"); o.value = "combined"; o.textContent = T("all_required"); sel.appendChild(o); }
      for (const c of init.categories) { const o = document.createElement("option"); o.value = c.key; o.textContent = c.label + " (" + T("min", { m: c.minutes }) + ")"; sel.appendChild(o); }
    }
    $("bands-label").textContent = init.text.bands_title;
    $("cmp-label").textContent = init.text.cmp_compare_with;
    { const o = document.createElement("option"); o.value = ""; o.textContent = "–"; $("bands").appendChild(o); }
    for (const c of init.categories) { const o = document.createElement("option"); o.value = c.key; o.textContent = c.label; $("bands").appendChild(o); }
    const bandKey = L.control({ position: "bottomright" });
    bandKey.onAdd = () => { const d = L.DomUtil.create("div", "legend"); d.id = "band-legend"; d.hidden = true; return d; };
    bandKey.addTo(map);
    if (init.units) {
      $("units-box").hidden = false;
      $("units-label").textContent = init.text.choropleth_title;
      for (const v of [""].concat(init.units.levels)) {
        const o = document.createElement("option"); o.value = v; o.textContent = v || "–"; $("unit-level").appendChild(o);
      }
      const unitKey = L.control({ position: "bottomright" });
      unitKey.onAdd = () => { const d = L.DomUtil.create("div", "legend"); d.id = "unit-legend"; d.hidden = true; return d; };
      unitKey.addTo(map);
    }
    map.fitBounds(init.bounds);
    drawFacilities();
    for (const f of init.facilities) facMarkers[f.id]._cat = f.category;
    const legend = L.control({ position: "bottomleft" });
    legend.onAdd = () => {
      const d = L.DomUtil.create("div", "legend");
      d.innerHTML = "<div><i style='background:rgba(214,39,40,.6)'></i>" + esc(T("legend_gap")) + "</div>" +
        init.categories.map((c) => "<div><i style='background:" + catColor[c.key] + ";border-radius:50%'></i>" + esc(c.label) + "</div>").join("") +
        "<div><i style='background:#fff;border:1px dashed #b00020;border-radius:50%'></i>" + esc(T("legend_closed")) + "</div>";
      return d;
    };
    legend.addTo(map);
    map.on("click", (e) => { if ($("add-mode").checked) addFromForm(e.latlng); });
    $("add-mode").onchange = () => map.getContainer().classList.toggle("adding", $("add-mode").checked);
    map.getContainer().classList.add("adding");
    $("year").onchange = () => api("GET", "/api/figures").catch(() => null);
    $("layer").onchange = () => api("GET", "/api/figures").catch(() => null);
    $("bands").onchange = () => api("GET", "/api/figures").catch(() => null);
    $("unit-level").onchange = () => api("GET", "/api/figures").catch(() => null);
    $("compare").onchange = () => loadCompare();
    $("suggest-btn").onclick = async () => {
      status(T("suggesting"), false);
      try {
        const d = await api("POST", "/api/suggest", { category: $("add-cat").value, k: Number($("suggest-k").value) });
        suggested = d.suggested.map((s) => Object.assign({ category: $("add-cat").value }, s));
        drawSuggested();
        status(T("suggested_status", { n: suggested.length }), false);
      } catch (e) { /* shown */ }
    };
    $("keep-all").onclick = () => keepSuggested(suggested.map((_, i) => i));
    $("drop-all").onclick = () => { suggested = []; drawSuggested(); };
    $("save").onclick = async () => {
      try {
        const d = await api("POST", "/api/scenario/save", { name: $("sc-name").value });
        $("files").textContent = T("saved_in", { file: d.file, folder: d.folder });
        await refreshSaved();
      } catch (e) { /* shown */ }
    };
    $("load").onclick = () => $("saved").value && api("POST", "/api/scenario/load", { file: $("saved").value }).catch(() => null);
    $("new").onclick = () => api("POST", "/api/scenario/new", { name: "scenario" }).catch(() => null);
    $("export").onclick = async () => {
      status(T("exporting"), false);
      try {
        const d = await api("POST", "/api/export", {});
        $("files").textContent = T("exported_to", { files: d.files.join(", "), folder: d.folder });
        status(d.description, false);
      } catch (e) { /* shown */ }
    };
    await api("GET", "/api/figures");
    await refreshSaved();
    wb.ready = true;
  }

  start().catch((e) => status(T("could_not_start", { msg: e.message }), true));
})();
