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
    protection: (p) => `Chaque chiffre publié compte au moins ${p.k} personnes ; ${p.hidden} cases masquées ` +
      `(dont masquage secondaire). Seuls comptent les trajets des personnes qui ont consenti, sans les extrémités ` +
      `dans leurs zones privées ; la contribution d'une personne est plafonnée.`,
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
    protection: (p) => `Every published figure counts at least ${p.k} people; ${p.hidden} cells hidden ` +
      `(secondary suppression included). Only trips of people who consented count, without their ends inside ` +
      `their privacy zones; each person's contribution is capped.`,
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

function setStatus(text) { document.getElementById("status").textContent = text; }

function chart(id, config) {
  if (state.charts[id]) state.charts[id].destroy();
  state.charts[id] = new Chart(document.getElementById(id), config);
  return state.charts[id];
}

function drawShare(body) {
  const periods = body.periods || [];
  const modes = [...new Set(periods.flatMap((p) => p.modes.filter((m) => !m.suppressed).map((m) => m.mode)))];
  chart("share-chart", {
    type: "bar",
    data: {
      labels: periods.map((p) => p.start),
      datasets: modes.map((mode) => ({
        label: modeName(mode),
        backgroundColor: COLORS[mode] || "#888",
        data: periods.map((p) => { const m = p.modes.find((x) => x.mode === mode); return m && !m.suppressed ? m.trips : 0; }),
      })),
    },
    options: { animation: false, responsive: true, scales: { x: { stacked: true }, y: { stacked: true } } },
  });
}

function drawCo2(body) {
  const series = (body.series || []).filter((s) => !s.suppressed);
  chart("co2-chart", {
    type: "line",
    data: { labels: series.map((s) => s.start),
      datasets: [{ label: "CO2e (kg)", data: series.map((s) => s.co2e_g / 1000), borderColor: "#0b6e4f", tension: 0.2 }] },
    options: { animation: false, responsive: true },
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
      tip.textContent = `${p.zone}: ${p.trips} ${t("trips")}, ${(p.co2e_g / 1000).toFixed(1)} kg CO2e`;
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
  const flows = (body.flows || []).filter((f) => !f.suppressed).sort((a, b) => b.trips - a.trips).slice(0, 10);
  flows.forEach((f) => {
    const row = document.createElement("tr");
    [f.origin, f.destination, Math.round(f.trips), (f.co2e_g / 1000).toFixed(1)].forEach((v) => {
      const cell = document.createElement("td");
      cell.textContent = v;
      row.appendChild(cell);
    });
    tbody.appendChild(row);
  });
}

async function refresh() {
  setStatus(t("loading"));
  const f = filters();
  const period = document.getElementById("period").value;
  try {
    const [share, series, hours, zones, od] = await Promise.all([
      api("/v1/operator/stats/modal-share", { ...f, period }),
      api("/v1/operator/stats/timeseries", { ...f, period }),
      api("/v1/operator/stats/profile", { ...f, by: "hour" }),
      api("/v1/operator/stats/zones", f),
      api("/v1/operator/stats/od", f),
    ]);
    state.data = { share, series, hours, zones, od };
    drawShare(share);
    drawCo2(series);
    drawHours(hours);
    drawMap(zones);
    drawOd(od);
    const hidden = [share, series, hours, zones, od].reduce((n, b) => n + b.protection.k_anonymity.suppressed_cells, 0);
    document.getElementById("protection").textContent = TEXT[state.lang].protection({ k: share.protection.k_anonymity.k, hidden });
    setStatus(zones.features.length ? t("loaded") : t("noData"));
    state.loads = (state.loads || 0) + 1;
  } catch (error) {
    if (error.status === 401) { signOut(); return; }
    setStatus(error.message);
  }
}

async function start() {
  const me = await api("/v1/operator/me");
  document.getElementById("who").textContent = me.name;
  const sets = await api("/v1/operator/zone-sets");
  const select = document.getElementById("zone-set");
  select.innerHTML = "";
  sets.zone_sets.forEach((z) => { const o = document.createElement("option"); o.value = z.name; o.textContent = z.name; select.appendChild(o); });
  const today = new Date();
  document.getElementById("to").value = isoDay(today);
  document.getElementById("from").value = isoDay(new Date(today.getTime() - 30 * 86400000));
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
document.getElementById("filters").addEventListener("change", (event) => {
  if (event.target.id === "measure" && state.data.zones) { drawMap(state.data.zones); return; }
  refresh();
});

translate();
if (state.token) start().catch(signOut);
