/* Coach CO2 operator dashboard: the territory's aggregates, never a person. Plain JavaScript, no build. */
"use strict";

const TEXT = {
  fr: {
    title: "Coach CO2 — le territoire", logout: "Se déconnecter", signin: "Connexion opérateur",
    signinHelp: "Collez le jeton d'opérateur remis par l'administrateur (coachco2 operator create).",
    token: "Jeton", signinButton: "Se connecter", from: "Du", to: "Au", period: "Période", day: "jour",
    week: "semaine", month: "mois", zoneSet: "Zonage", measure: "Carte", co2: "CO2e", trips: "trajets",
    shareCar: "part de la voiture", shareBus: "part du bus", shareBike: "part du vélo", shareWalk: "part de la marche",
    mapTitle: "Par zone de départ", shareTitle: "Part modale (trajets)", co2Title: "CO2e dans le temps (kg)",
    hourTitle: "Heures de départ (trajets)", odTitle: "Flux origine-destination", origin: "Origine",
    destination: "Destination", protectionTitle: "Protection des personnes", loading: "Chargement…",
    loaded: "À jour.", badToken: "Jeton refusé.", noData: "Aucune donnée publiable sur cette période.",
    source: "Source", sourcePublication: "publication mensuelle (exacte)",
    sourceQuery: "requête (confidentialité différentielle)", month: "Mois", noPublication: "Aucune publication encore.",
    odGrid: "Les flux se lisent sur un zonage importé d'au plus 100 zones.", budgetOut: "Budget épuisé : ",
    publication: (p) => `Publication exacte de ${p.month} : chaque chiffre compte au moins ${p.k} personnes ; ` +
      `${p.hidden} cases masquées, vérifiées pour qu'aucun total ne les révèle. Seuls comptent les trajets des ` +
      `personnes qui ont consenti, sans les extrémités dans leurs zones privées ; la contribution d'une personne ` +
      `est plafonnée.`,
    privacy: (p) => `Confidentialité différentielle : ε = ${p.epsilon} par requête, dépensé sur ${p.months} ; ` +
      `chaque chiffre est bruité, à ± sa marge (95 %) près (trajets : ± ${p.margin} par case). Budget restant : ` +
      `${p.budget}. Une même question reçoit la même réponse, sans nouveau coût.`,
    modes: { walk: "marche", run: "course", bike: "vélo", ebike: "VAE", escooter: "trottinette", car: "voiture",
      ecar: "voiture électrique", carpool: "covoiturage", bus: "bus", coach: "car", tram: "tram", metro: "métro",
      train: "train", hsr: "TGV", plane: "avion", boat: "bateau", moped: "scooter", motorcycle: "moto", unknown: "inconnu" },
  },
  en: {
    title: "Coach CO2 — the territory", logout: "Sign out", signin: "Operator sign-in",
    signinHelp: "Paste the operator token your administrator gave you (coachco2 operator create).",
    token: "Token", signinButton: "Sign in", from: "From", to: "To", period: "Period", day: "day", week: "week",
    month: "month", zoneSet: "Zones", measure: "Map", co2: "CO2e", trips: "trips", shareCar: "car share",
    shareBus: "bus share", shareBike: "bike share", shareWalk: "walking share", mapTitle: "By starting zone",
    shareTitle: "Modal share (trips)", co2Title: "CO2e over time (kg)", hourTitle: "Departure hours (trips)",
    odTitle: "Origin-destination flows", origin: "Origin", destination: "Destination",
    protectionTitle: "Protecting people", loading: "Loading…", loaded: "Up to date.", badToken: "Token refused.",
    noData: "Nothing publishable for this period.",
    source: "Source", sourcePublication: "monthly publication (exact)", sourceQuery: "query (differential privacy)",
    month: "Month", noPublication: "No publication yet.",
    odGrid: "Flows are read on an uploaded zone set of at most 100 zones.", budgetOut: "Budget spent: ",
    publication: (p) => `Exact publication of ${p.month}: every figure counts at least ${p.k} people; ` +
      `${p.hidden} cells hidden, checked so that no total reveals them. Only trips of people who consented ` +
      `count, without their ends inside their privacy zones; each person's contribution is capped.`,
    privacy: (p) => `Differential privacy: ε = ${p.epsilon} a query, spent on ${p.months}; every figure is ` +
      `noisy, within ± its margin (95 %) (trips: ± ${p.margin} a cell). Budget left: ${p.budget}. ` +
      `The same question gets the same answer, at no new cost.`,
    modes: { walk: "walk", run: "run", bike: "bike", ebike: "e-bike", escooter: "e-scooter", car: "car",
      ecar: "electric car", carpool: "carpool", bus: "bus", coach: "coach", tram: "tram", metro: "metro",
      train: "train", hsr: "high-speed train", plane: "plane", boat: "boat", moped: "moped", motorcycle: "motorbike",
      unknown: "unknown" },
  },
};
const COLORS = { walk: "#6a994e", run: "#a7c957", bike: "#2a9d8f", ebike: "#48cae4", escooter: "#90e0ef",
  car: "#d62828", ecar: "#f77f00", carpool: "#fcbf49", bus: "#5a189a", coach: "#9d4edd", tram: "#3a86ff",
  metro: "#023e8a", train: "#0077b6", hsr: "#03045e", plane: "#6c757d", boat: "#00b4d8", moped: "#e76f51",
  motorcycle: "#bc4749", unknown: "#adb5bd" };
const SCALE = ["#edf8e9", "#c7e9c0", "#a1d99b", "#74c476", "#41ab5d", "#238b45", "#005a32"];

const state = {
  lang: (sessionStorage.getItem("lang") || navigator.language || "fr").slice(0, 2) === "en" ? "en" : "fr",
  token: sessionStorage.getItem("operatorToken"),
  charts: {},
  map: null,
  layer: null,
  data: {},
  zoneSets: {},
};
window.dashboard = state;

function t(key) { return TEXT[state.lang][key]; }
function modeName(mode) { return TEXT[state.lang].modes[mode] || mode; }

function translate() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.getElementById("lang").textContent = state.lang === "fr" ? "EN" : "FR";
  document.title = t("title");
}

async function api(path, params) {
  const url = new URL(path, window.location.origin);
  Object.entries(params || {}).forEach(([k, v]) => { if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v); });
  const response = await fetch(url, { headers: { Authorization: `Bearer ${state.token}`, Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) { const error = new Error(body.detail || response.statusText); error.status = response.status; throw error; }
  return body;
}

function isoDay(date) { return date.toISOString().slice(0, 10); }

function filters() {
  return {
    from: document.getElementById("from").value,
    to: document.getElementById("to").value,
    zone_set: document.getElementById("zone-set").value,
  };
}

function source() { return document.getElementById("source").value; }

function margin(cell, name) { return cell && cell.margin_95 ? cell.margin_95[name] : null; }

function plusMinus(value, m) {
  if (value === null || value === undefined) return "–";
  return m === null || m === undefined ? `${Math.round(value)}` : `${Math.round(value)} ± ${Math.round(m)}`;
}

function setStatus(text) { document.getElementById("status").textContent = text; }

function chart(id, config) {
  if (state.charts[id]) state.charts[id].destroy();
  state.charts[id] = new Chart(document.getElementById(id), config);
  return state.charts[id];
}

// rows: [{ label, total, modes: [{ mode, trips, suppressed, margin_95? }] }], from a release or a publication.
function drawShare(rows) {
  const modes = [...new Set(rows.flatMap((p) => p.modes.filter((m) => !m.suppressed && m.trips > 0).map((m) => m.mode)))];
  const cellOf = (row, mode) => row.modes.find((x) => x.mode === mode);
  chart("share-chart", {
    type: "bar",
    data: {
      labels: rows.map((p) => p.label),
      datasets: modes.map((mode) => ({
        label: modeName(mode),
        backgroundColor: COLORS[mode] || "#888",
        data: rows.map((p) => { const m = cellOf(p, mode); return m && !m.suppressed ? m.trips : null; }),
        margins: rows.map((p) => margin(cellOf(p, mode), "trips")),
      })),
    },
    options: {
      animation: false, responsive: true, scales: { x: { stacked: true }, y: { stacked: true } },
      plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${plusMinus(c.raw, c.dataset.margins[c.dataIndex])}` } } },
    },
  });
}

// points: [{ label, co2e_g, margin_kg? }]; a noisy series is drawn with its 95 % band.
function drawCo2(points) {
  const kg = points.map((s) => (s.co2e_g === null || s.co2e_g === undefined ? null : s.co2e_g / 1000));
  const datasets = [{ label: "CO2e (kg)", data: kg, borderColor: "#0b6e4f", tension: 0.2 }];
  if (points.some((s) => s.margin_kg)) {
    datasets.push({ label: "−95 %", data: points.map((s, i) => (kg[i] === null ? null : Math.max(0, kg[i] - s.margin_kg))),
      borderWidth: 0, pointRadius: 0, fill: false });
    datasets.push({ label: "+95 %", data: points.map((s, i) => (kg[i] === null ? null : kg[i] + s.margin_kg)),
      borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: "rgba(11, 110, 79, 0.15)" });
  }
  chart("co2-chart", {
    type: "line",
    data: { labels: points.map((s) => s.label), datasets },
    options: { animation: false, responsive: true, plugins: { legend: { display: false } } },
  });
}

function drawHours(body) {
  const buckets = body.buckets || [];
  const hours = [...Array(24).keys()];
  chart("hour-chart", {
    type: "bar",
    data: { labels: hours.map((h) => `${h}h`),
      datasets: [{ label: t("trips"), backgroundColor: "#3a86ff",
        data: hours.map((h) => { const b = buckets.find((x) => x.hour === h); return b && !b.suppressed ? b.trips : 0; }) }] },
    options: { animation: false, responsive: true, plugins: { legend: { display: false } } },
  });
}

function measureOf(feature, measure) {
  const p = feature.properties;
  if (measure.startsWith("share:")) { const v = p.mode_share_trips[measure.slice(6)]; return v === undefined ? 0 : v; }
  return p[measure];
}

function drawMap(body) {
  if (!state.map) {
    state.map = L.map("map", { zoomControl: true, attributionControl: false }).setView([46.16, -1.15], 11);
  }
  if (state.layer) state.map.removeLayer(state.layer);
  const measure = document.getElementById("measure").value;
  const features = body.features || [];
  const values = features.map((f) => measureOf(f, measure)).filter((v) => v !== null && v !== undefined);
  const max = Math.max(...values, 0);
  const color = (v) => (v === null || v === undefined || max === 0 ? "#cccccc" : SCALE[Math.min(SCALE.length - 1, Math.floor((v / max) * (SCALE.length - 1)))]);
  state.layer = L.geoJSON(body, {
    style: (f) => ({ color: "#335", weight: 0.6, fillOpacity: 0.75, fillColor: color(measureOf(f, measure)) }),
    onEachFeature: (f, layer) => {
      const p = f.properties;
      // Leaflet puts a string tooltip in as HTML: give it a text node, so a zone code is never markup.
      const tip = document.createElement("span");
      const m = p.margin_95 || {};
      tip.textContent = `${p.zone}: ${plusMinus(p.trips, m.trips)} ${t("trips")}, ` +
        `${plusMinus(p.co2e_g / 1000, m.co2e_g === undefined ? undefined : m.co2e_g / 1000)} kg CO2e`;
      layer.bindTooltip(tip);
    },
  }).addTo(state.map);
  if (features.length) state.map.fitBounds(state.layer.getBounds(), { maxZoom: 13 });
  const legend = document.getElementById("legend");
  legend.innerHTML = "";
  SCALE.forEach((c, i) => {
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = c;
    item.appendChild(swatch);
    const share = measure.startsWith("share:");
    const v = (max * i) / (SCALE.length - 1);
    item.appendChild(document.createTextNode(share ? `${Math.round(v * 100)} %` : measure === "co2e_g" ? `${(v / 1000).toFixed(0)} kg` : `${Math.round(v)}`));
    legend.appendChild(item);
  });
}

function drawOd(body) {
  const tbody = document.querySelector("#od tbody");
  tbody.innerHTML = "";
  if (!body) {
    const row = document.createElement("tr");
    const cell = document.createElement("td");
    cell.colSpan = 5;
    cell.className = "od-note";
    cell.textContent = t("odGrid");
    row.appendChild(cell);
    tbody.appendChild(row);
    return;
  }
  const flows = (body.flows || []).filter((f) => !f.suppressed).sort((a, b) => b.trips - a.trips).slice(0, 10);
  flows.forEach((f) => {
    const row = document.createElement("tr");
    [f.origin, f.destination, Math.round(f.trips), `± ${Math.round(margin(f, "trips") || 0)}`, (f.co2e_g / 1000).toFixed(1)].forEach((v) => {
      const cell = document.createElement("td");
      cell.textContent = v;
      row.appendChild(cell);
    });
    tbody.appendChild(row);
  });
}

function budgetText(bodies) {
  const months = {};
  bodies.forEach((b) => b.protection.differential_privacy.budget.forEach((m) => { months[m.month] = m.remaining_epsilon; }));
  return Object.keys(months).sort().map((m) => `${m} ε ${Number(months[m]).toFixed(2)}`).join(", ");
}

async function refreshQuery() {
  const f = filters();
  const period = document.getElementById("period").value;
  const polygons = (state.zoneSets[f.zone_set] || {}).kind === "polygons";
  const [share, series, hours, zones, od] = await Promise.all([
    api("/v1/operator/stats/modal-share", { ...f, period }),
    api("/v1/operator/stats/timeseries", { ...f, period }),
    api("/v1/operator/stats/profile", { ...f, by: "hour" }),
    api("/v1/operator/stats/zones", f),
    polygons ? api("/v1/operator/stats/od", f).catch(() => null) : Promise.resolve(null),
  ]);
  state.data = { share, series, hours, zones, od };
  drawShare(share.periods.map((p) => ({ label: p.start, total: p.total, modes: p.modes })));
  drawCo2(series.series.map((s) => ({ label: s.start, co2e_g: s.co2e_g, margin_kg: (margin(s, "co2e_g") || 0) / 1000 })));
  drawHours(hours);
  drawMap(zones);
  drawOd(od);
  const dp = share.protection.differential_privacy;
  const trips = dp.measures.find((m) => m.measure === "trips");
  document.getElementById("protection").textContent = TEXT[state.lang].privacy({
    epsilon: dp.epsilon, months: dp.months.join(", "), margin: Math.round(trips ? trips.margin_95 : 0),
    budget: budgetText([share, series, hours, zones].concat(od ? [od] : [])),
  });
  setStatus(t("loaded"));
}

async function refreshPublication() {
  const zoneSet = document.getElementById("zone-set").value;
  const month = document.getElementById("month").value;
  if (!month) {
    state.data = {};
    drawShare([]);
    drawCo2([]);
    drawMap({ type: "FeatureCollection", features: [] });
    document.getElementById("protection").textContent = "";
    setStatus(t("noPublication"));
    return;
  }
  const [publication, map] = await Promise.all([
    api(`/v1/operator/publications/${encodeURIComponent(zoneSet)}/${month}`),
    api(`/v1/operator/publications/${encodeURIComponent(zoneSet)}/${month}/map`),
  ]);
  state.data = { publication, zones: map };
  const period = document.getElementById("period").value;
  const tables = publication.tables;
  const rows = period === "day" ? tables.days.map((d) => ({ label: d.day, total: d.total, modes: d.modes }))
    : period === "week" ? tables.weeks.map((w) => ({ label: w.week, total: w.total, modes: w.modes }))
      : [{ label: publication.month, total: tables.month.total, modes: tables.month.modes }];
  drawShare(rows);
  drawCo2(rows.map((r) => ({ label: r.label, co2e_g: r.total && !r.total.suppressed ? r.total.co2e_g : null })));
  drawMap(map);
  document.getElementById("protection").textContent = TEXT[state.lang].publication({
    month: publication.month, k: publication.k, hidden: publication.summary.cells_suppressed,
  });
  setStatus(map.features.length ? t("loaded") : t("noData"));
}

async function months() {
  const zoneSet = document.getElementById("zone-set").value;
  const listed = await api("/v1/operator/publications");
  const select = document.getElementById("month");
  const previous = select.value;
  select.innerHTML = "";
  listed.publications.filter((p) => p.zone_set === zoneSet).map((p) => p.month).sort().reverse().forEach((m) => {
    const o = document.createElement("option");
    o.value = m;
    o.textContent = m;
    select.appendChild(o);
  });
  if ([...select.options].some((o) => o.value === previous)) select.value = previous;
}

async function refresh() {
  setStatus(t("loading"));
  document.body.dataset.source = source();
  try {
    if (source() === "publication") await refreshPublication();
    else await refreshQuery();
    state.loads = (state.loads || 0) + 1;
  } catch (error) {
    if (error.status === 401) { signOut(); return; }
    setStatus(error.status === 409 ? t("budgetOut") + error.message : error.message);
    state.loads = (state.loads || 0) + 1;
  }
}

async function start() {
  const me = await api("/v1/operator/me");
  document.getElementById("who").textContent = me.name;
  const sets = await api("/v1/operator/zone-sets");
  const select = document.getElementById("zone-set");
  select.innerHTML = "";
  state.zoneSets = {};
  sets.zone_sets.forEach((z) => {
    state.zoneSets[z.name] = z;
    const o = document.createElement("option"); o.value = z.name; o.textContent = z.name; select.appendChild(o);
  });
  // Queries cover days that have ended: by default last month, whose answers are kept once asked.
  const today = new Date();
  const lastMonthEnd = new Date(Date.UTC(today.getFullYear(), today.getMonth(), 0));
  document.getElementById("to").value = isoDay(lastMonthEnd);
  document.getElementById("from").value = isoDay(new Date(Date.UTC(lastMonthEnd.getUTCFullYear(), lastMonthEnd.getUTCMonth(), 1)));
  await months().catch(() => {});
  if (!document.getElementById("month").value) document.getElementById("source").value = "query";
  document.getElementById("login").hidden = true;
  document.getElementById("app").hidden = false;
  document.getElementById("logout").hidden = false;
  await refresh();
}

function signOut() {
  sessionStorage.removeItem("operatorToken");
  state.token = null;
  document.getElementById("app").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  state.token = document.getElementById("token").value.trim();
  try {
    await start();
    sessionStorage.setItem("operatorToken", state.token);
    document.getElementById("login-error").textContent = "";
  } catch (error) {
    document.getElementById("login-error").textContent = t("badToken");
    state.token = null;
  }
});
document.getElementById("logout").addEventListener("click", signOut);
document.getElementById("lang").addEventListener("click", () => {
  state.lang = state.lang === "fr" ? "en" : "fr";
  sessionStorage.setItem("lang", state.lang);
  translate();
  if (state.token && !document.getElementById("app").hidden) refresh();
});
document.getElementById("filters").addEventListener("change", async (event) => {
  if (event.target.id === "measure" && state.data.zones) { drawMap(state.data.zones); return; }
  if (event.target.id === "zone-set") await months().catch(() => {});
  refresh();
});

translate();
if (state.token) start().catch(signOut);
