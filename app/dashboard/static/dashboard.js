/* Coach CO2 operator dashboard: the territory's aggregates, never a person. Plain JavaScript, no build.

What is hidden is drawn as hidden, never as zero: hatched, with a legend and a count under each figure.
Every chart has a data table kept in step with it (the table is what a screen reader reads). */
"use strict";

const plural = (n, one, many) => (n === 1 ? one : many);

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
    sourceQuery: "requête (confidentialité différentielle)", monthLabel: "Mois",
    noPublication: "Aucune publication encore pour ce zonage.",
    odGrid: "Les flux se lisent sur un zonage importé d'au plus 100 zones.", budgetOut: "Budget épuisé : ",
    odFailed: "Les flux n'ont pas pu être lus : ",
    mapLabel: "Carte des zones de départ ; ses chiffres sont dans le tableau des données qui la suit.",
    zoomIn: "Zoom avant", zoomOut: "Zoom arrière",
    tilesDown: "Fond de carte indisponible : les zones et les flux sont dessinés sans lui.",
    dataTable: "Tableau des données", zone: "Zone", people: "personnes", total: "total", hidden: "masqué",
    hiddenModes: "modes masqués", outside: "hors zones", co2kg: "CO2e (kg)", margin: "± (95 %)",
    hour: (h) => `${h} h`,
    chartLabel: (title) => `${title} : graphique ; ses chiffres sont dans le tableau des données qui le suit.`,
    hiddenLegend: (k) => `masqué (moins de ${k} personnes)`,
    cellsHidden: (n) => (n === 0 ? "Aucune case masquée."
      : `${n} ${plural(n, "case masquée", "cases masquées")} pour protéger les personnes (hachures).`),
    noneHiddenNoise: "Aucune case masquée : chaque chiffre est publié, avec son bruit.",
    zonesHidden: (n, k) => (n === 0 ? "Aucune zone masquée."
      : `${n} ${plural(n, "zone masquée", "zones masquées")} pour protéger les personnes (moins de ${k} ` +
        "personnes, ou pour en protéger une) : elles ne sont pas dessinées, pour ne rien dire de l'endroit."),
    zonesHiddenNoise: (n) => (n === 0 ? "Aucune zone masquée."
      : `${n} ${plural(n, "zone masquée", "zones masquées")} pour protéger les personnes : leurs trajets ne ` +
        "dépassent pas le bruit qui les protège (la plupart n'en ont aucun). Elles ne sont pas dessinées."),
    shareHidden: (n, mode) => `Part ${mode} masquée dans ${n} ${plural(n, "zone", "zones")} (hachures).`,
    flowsHidden: (n) => `${n} ${plural(n, "flux masqué", "flux masqués")} pour protéger les personnes : leurs ` +
      "trajets ne dépassent pas le bruit qui les protège (la plupart n'en ont aucun).",
    flowsAllHidden: (n) => `Les ${n} flux sont tous masqués pour protéger les personnes : aucun ne dépasse le ` +
      "bruit qui les protège sur cette période. Une période plus longue ou des zones plus grandes en " +
      "montreront.",
    flowsOutside: (n) => `${n} ${plural(n, "flux part ou arrive", "flux partent ou arrivent")} hors des ` +
      "zones : dans le tableau seulement.",
    flowsLegend: (max) => `flux : épaisseur selon les trajets (le plus épais : ${max})`,
    partial: (n, of) => `partielle : ${n} j sur ${of}`,
    partialNote: "Trait pointillé et point creux : période partielle (seuls ses jours dans l'intervalle comptent).",
    shareCaption: "Trajets par mode et par période", co2Caption: "CO2e par période",
    hourCaption: "Trajets par heure de départ (heure locale)",
    zonesCaption: (what) => `Zones dessinées sur la carte : ${what}`,
    odCaption: "Flux origine-destination qui dépassent le bruit, du plus grand au plus petit",
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
    ofMode: { walk: "de la marche", run: "de la course", bike: "du vélo", ebike: "du VAE", car: "de la voiture",
      bus: "du bus", train: "du train", tram: "du tram", boat: "du bateau" },
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
    monthLabel: "Month", noPublication: "No publication yet for these zones.",
    odGrid: "Flows are read on an uploaded zone set of at most 100 zones.", budgetOut: "Budget spent: ",
    odFailed: "The flows could not be read: ",
    mapLabel: "Map of starting zones; its figures are in the data table that follows it.",
    zoomIn: "Zoom in", zoomOut: "Zoom out",
    tilesDown: "Basemap unavailable: zones and flows are drawn without it.",
    dataTable: "Data table", zone: "Zone", people: "people", total: "total", hidden: "hidden",
    hiddenModes: "hidden modes", outside: "outside the zones", co2kg: "CO2e (kg)", margin: "± (95 %)",
    hour: (h) => `${h}:00`,
    chartLabel: (title) => `${title}: chart; its figures are in the data table that follows it.`,
    hiddenLegend: (k) => `hidden (fewer than ${k} people)`,
    cellsHidden: (n) => (n === 0 ? "No cell hidden."
      : `${n} ${plural(n, "cell", "cells")} hidden to protect people (hatched).`),
    noneHiddenNoise: "No cell hidden: every figure is published, with its noise.",
    zonesHidden: (n, k) => (n === 0 ? "No zone hidden."
      : `${n} ${plural(n, "zone", "zones")} hidden to protect people (fewer than ${k} people, or to protect ` +
        "one): they are not drawn, so that nothing is said of where they are."),
    zonesHiddenNoise: (n) => (n === 0 ? "No zone hidden."
      : `${n} ${plural(n, "zone", "zones")} hidden to protect people: their trips do not stand clear of the ` +
        "noise that protects them (most have none). They are not drawn."),
    shareHidden: (n, mode) => `The ${mode} share is hidden in ${n} ${plural(n, "zone", "zones")} (hatched).`,
    flowsHidden: (n) => `${n} ${plural(n, "flow", "flows")} hidden to protect people: their trips do not ` +
      "stand clear of the noise that protects them (most have none).",
    flowsAllHidden: (n) => `All ${n} flows are hidden to protect people: none stands clear of the noise that ` +
      "protects them over this period. A longer period or larger zones will show some.",
    flowsOutside: (n) => `${n} ${plural(n, "flow starts or ends", "flows start or end")} outside the zones: ` +
      "in the table only.",
    flowsLegend: (max) => `flows: width by trips (widest: ${max})`,
    partial: (n, of) => `partial: ${n} of ${of} days`,
    partialNote: "Dashed line and hollow point: a partial period (only its days within the range count).",
    shareCaption: "Trips by mode and period", co2Caption: "CO2e by period",
    hourCaption: "Trips by hour of departure (local time)",
    zonesCaption: (what) => `Zones drawn on the map: ${what}`,
    odCaption: "Origin-destination flows that stand clear of the noise, largest first",
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
    ofMode: {},
  },
};
const COLORS = { walk: "#6a994e", run: "#a7c957", bike: "#2a9d8f", ebike: "#48cae4", escooter: "#90e0ef",
  car: "#d62828", ecar: "#f77f00", carpool: "#fcbf49", bus: "#5a189a", coach: "#9d4edd", tram: "#3a86ff",
  metro: "#023e8a", train: "#0077b6", hsr: "#03045e", plane: "#6c757d", boat: "#00b4d8", moped: "#e76f51",
  motorcycle: "#bc4749", unknown: "#adb5bd" };
const SCALE = ["#edf8e9", "#c7e9c0", "#a1d99b", "#74c476", "#41ab5d", "#238b45", "#005a32"];
const LINE = "#0b6e4f";
const FLOW = "#1d3557";

// The basemap, as the server's settings name it (COACHCO2_MAP_TILE_URL, COACHCO2_MAP_TILE_ATTRIBUTION).
const CONFIG = {
  tileUrl: document.querySelector('meta[name="coachco2:map-tile-url"]').content,
  tileAttribution: document.querySelector('meta[name="coachco2:map-tile-attribution"]').content,
};

const state = {
  lang: (sessionStorage.getItem("lang") || navigator.language || "fr").slice(0, 2) === "en" ? "en" : "fr",
  token: sessionStorage.getItem("operatorToken"),
  charts: {},
  map: null,
  layer: null,
  flowLayer: null,
  data: {},
  zoneSets: {},
  shapes: {},
  tileErrors: 0,
  tilesLoaded: 0,
  counts: {},
};
window.dashboard = state;

function t(key) { return TEXT[state.lang][key]; }
function modeName(mode) { return TEXT[state.lang].modes[mode] || mode; }
function zoneName(code) { return code === "outside" ? t("outside") : code; }

function number(value, digits) {
  if (value === null || value === undefined) return "–";
  return new Intl.NumberFormat(state.lang === "fr" ? "fr-FR" : "en-GB",
    { maximumFractionDigits: digits || 0, minimumFractionDigits: digits || 0 }).format(value);
}

function plusMinus(value, m, digits) {
  if (value === null || value === undefined) return "–";
  return m === null || m === undefined ? number(value, digits) : `${number(value, digits)} ± ${number(m, digits)}`;
}

function translate() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.getElementById("lang").textContent = state.lang === "fr" ? "EN" : "FR";
  document.getElementById("lang").setAttribute("aria-label", state.lang === "fr" ? "English" : "Français");
  document.getElementById("map").setAttribute("aria-label", t("mapLabel"));
  document.title = t("title");
  if (state.map) zoomControl();
}

async function api(path, params) {
  const url = new URL(path, window.location.origin);
  Object.entries(params || {}).forEach(([k, v]) => { if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v); });
  // The server writes its problem details in the page's language.
  const response = await fetch(url, { headers: { Authorization: `Bearer ${state.token}`, Accept: "application/json",
    "Accept-Language": state.lang } });
  const body = await response.json();
  if (!response.ok) { const error = new Error(body.detail || response.statusText); error.status = response.status; throw error; }
  return body;
}

// -- calendar ---------------------------------------------------------------------------------------------

function isoDay(date) { return date.toISOString().slice(0, 10); }
function utcDay(text) { return new Date(`${text}T00:00:00Z`); }
function addDays(text, n) { const d = utcDay(text); d.setUTCDate(d.getUTCDate() + n); return isoDay(d); }

function periodEnd(start, period) {
  if (period === "day") return start;
  if (period === "week") return addDays(start, 6);
  const d = utcDay(start);
  return isoDay(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)));
}

function daysBetween(a, b) { return Math.round((utcDay(b) - utcDay(a)) / 86400000) + 1; }

// A period is partial when some of its days fall outside the range asked (a week cut by the range's
// first or last day, the month still under way).
function partOf(start, period, from, to) {
  const end = periodEnd(start, period);
  const first = start < from ? from : start;
  const last = end > to ? to : end;
  const of = daysBetween(start, end);
  const counted = Math.max(0, daysBetween(first, last));
  return counted < of ? { counted, of } : null;
}

function monthDays(month) {
  const [y, m] = month.split("-").map(Number);
  const n = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return [...Array(n).keys()].map((i) => `${month}-${String(i + 1).padStart(2, "0")}`);
}

// -- hatching: one look for everything hidden ----------------------------------------------------------------

let hatch = null;
function hatchPattern() {
  if (hatch) return hatch;
  const tile = document.createElement("canvas");
  tile.width = 8; tile.height = 8;
  const g = tile.getContext("2d");
  g.fillStyle = "#f1f1f1"; g.fillRect(0, 0, 8, 8);
  g.strokeStyle = "#6b6b6b"; g.lineWidth = 2;
  g.beginPath(); g.moveTo(0, 8); g.lineTo(8, 0); g.moveTo(-2, 2); g.lineTo(2, -2); g.moveTo(6, 10); g.lineTo(10, 6);
  g.stroke();
  hatch = g.createPattern(tile, "repeat");
  return hatch;
}

// Columns whose whole value is hidden (a period whose total is suppressed) are hatched across the plot.
const hiddenColumns = {
  id: "hiddenColumns",
  beforeDatasetsDraw(chart, args, options) {
    const indices = options.indices || [];
    if (!indices.length) return;
    const { ctx, chartArea, scales } = chart;
    const step = chartArea.width / Math.max(1, chart.data.labels.length);
    ctx.save();
    ctx.beginPath(); ctx.rect(chartArea.left, chartArea.top, chartArea.width, chartArea.height); ctx.clip();
    ctx.fillStyle = hatchPattern();
    indices.forEach((i) => {
      const x = scales.x.getPixelForValue(i);
      ctx.fillRect(x - step * 0.4, chartArea.top, step * 0.8, chartArea.height);
    });
    ctx.restore();
  },
};

function chart(id, config, title) {
  if (state.charts[id]) state.charts[id].destroy();
  state.charts[id] = new Chart(document.getElementById(id), config);
  document.getElementById(id).setAttribute("aria-label", TEXT[state.lang].chartLabel(title));
  return state.charts[id];
}

function note(id, lines) {
  const el = document.getElementById(id);
  el.textContent = "";
  lines.filter(Boolean).forEach((line, i) => {
    if (i) el.appendChild(document.createElement("br"));
    el.appendChild(document.createTextNode(line));
  });
}

// -- data tables: what each chart draws, as a screen reader reads it ---------------------------------------

// cells: { text, value?, hidden? }; the first cell of a row is its header. `value` is the number drawn.
function table(id, caption, headers, rows) {
  const el = document.getElementById(id);
  el.querySelector("caption").textContent = caption;
  const head = el.querySelector("thead");
  head.textContent = "";
  const tr = document.createElement("tr");
  headers.forEach((h) => { const th = document.createElement("th"); th.scope = "col"; th.textContent = h; tr.appendChild(th); });
  head.appendChild(tr);
  const body = el.querySelector("tbody");
  body.textContent = "";
  rows.forEach((cells) => {
    const row = document.createElement("tr");
    cells.forEach((c, i) => {
      const cell = document.createElement(i === 0 ? "th" : "td");
      if (i === 0) cell.scope = "row";
      if (c.colSpan) cell.colSpan = c.colSpan;
      cell.textContent = c.text;
      if (c.value !== undefined && c.value !== null) cell.dataset.value = String(c.value);
      if (c.hidden) cell.classList.add("hidden-cell");
      if (c.className) cell.classList.add(c.className);
      row.appendChild(cell);
    });
    body.appendChild(row);
  });
}

function hiddenText() { return t("hidden"); }

// -- modal share ---------------------------------------------------------------------------------------

// rows: [{ label, partial?, total, modes: [{ mode, trips, suppressed, margin_95? }] }], from a release or a
// publication. A hidden mode is never drawn as zero: when its period's total is published, the hidden modes
// together are the rest of the total, drawn hatched; when the total itself is hidden, the whole column is.
function drawShare(rows, noisy) {
  const modes = [...new Set(rows.flatMap((r) => r.modes.filter((m) => !m.suppressed && m.trips > 0).map((m) => m.mode)))];
  const hiddenOnly = [...new Set(rows.flatMap((r) => r.modes.filter((m) => m.suppressed).map((m) => m.mode)))]
    .filter((m) => !modes.includes(m));
  const cellOf = (row, mode) => row.modes.find((x) => x.mode === mode);
  const totalHidden = rows.map((r) => Boolean(r.total && r.total.suppressed));
  const rest = rows.map((r, i) => {
    const hiddenModes = r.modes.filter((m) => m.suppressed);
    if (totalHidden[i] || !hiddenModes.length) return null;
    const shown = r.modes.filter((m) => !m.suppressed).reduce((a, m) => a + (m.trips || 0), 0);
    return Math.max(0, Math.round(((r.total.trips || 0) - shown) * 10) / 10);
  });
  const hiddenNames = rows.map((r) => r.modes.filter((m) => m.suppressed).map((m) => modeName(m.mode)).join(", "));
  const count = rows.reduce((a, r, i) => a + r.modes.filter((m) => m.suppressed).length + (totalHidden[i] ? 1 : 0), 0);
  const datasets = modes.map((mode) => ({
    label: modeName(mode),
    mode,
    backgroundColor: COLORS[mode] || "#888",
    data: rows.map((r, i) => { const m = cellOf(r, mode); return totalHidden[i] || (m && m.suppressed) ? null : (m ? m.trips : 0); }),
    margins: rows.map((r) => (cellOf(r, mode) && cellOf(r, mode).margin_95 ? cellOf(r, mode).margin_95.trips : null)),
  }));
  if (rest.some((v) => v !== null)) {
    datasets.push({ label: t("hiddenModes"), mode: null, hidden_cells: true, backgroundColor: hatchPattern(),
      borderColor: "#6b6b6b", borderWidth: 1, data: rest, margins: rows.map(() => null) });
  }
  chart("share-chart", {
    type: "bar",
    data: { labels: rows.map((r) => (r.partial ? [r.label, r.partial] : r.label)), datasets },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
      plugins: {
        hiddenColumns: { indices: totalHidden.map((h, i) => (h ? i : -1)).filter((i) => i >= 0) },
        tooltip: { callbacks: { label: (c) => (c.dataset.hidden_cells
          ? `${c.dataset.label} (${hiddenNames[c.dataIndex]}): ${number(c.raw)}`
          : `${c.dataset.label}: ${plusMinus(c.raw, c.dataset.margins[c.dataIndex])}`) } },
      },
    },
    plugins: [hiddenColumns],
  }, t("shareTitle"));
  state.counts.share = count;
  note("share-hidden", [noisy ? t("noneHiddenNoise") : TEXT[state.lang].cellsHidden(count),
    rows.some((r) => r.partial) ? t("partialNote") : null]);
  const columns = [...modes, ...hiddenOnly];
  table("share-table", t("shareCaption"), [t("period"), ...columns.map(modeName), t("total")],
    rows.map((r, i) => [
      { text: r.partial ? `${r.label} (${r.partial})` : r.label },
      ...columns.map((mode) => {
        const m = cellOf(r, mode);
        if (totalHidden[i] || (m && m.suppressed)) return { text: hiddenText(), hidden: true };
        const v = m ? m.trips : 0;
        return { text: plusMinus(v, m && m.margin_95 ? m.margin_95.trips : null), value: v };
      }),
      totalHidden[i] ? { text: hiddenText(), hidden: true }
        : { text: plusMinus(r.total ? r.total.trips : 0, r.total && r.total.margin_95 ? r.total.margin_95.trips : null),
          value: r.total ? r.total.trips : 0 },
    ]));
}

// -- CO2e over time -------------------------------------------------------------------------------------

// points: [{ label, co2e_g, hidden?, partial?, margin_kg? }]: a straight line from zero, no smoothing; a
// partial period dashed with a hollow point; a hidden one hatched; a noisy series with its 95 % band.
function drawCo2(points, noisy) {
  const kg = points.map((s) => (s.hidden || s.co2e_g === null || s.co2e_g === undefined ? null : s.co2e_g / 1000));
  const partial = points.map((s) => Boolean(s.partial));
  const dashed = (ctx) => (partial[ctx.p0DataIndex] || partial[ctx.p1DataIndex] ? [6, 4] : undefined);
  const datasets = [{
    label: t("co2kg"), data: kg, borderColor: LINE, backgroundColor: LINE, tension: 0, spanGaps: false,
    segment: { borderDash: dashed },
    pointRadius: 4, pointBorderWidth: 2,
    pointBackgroundColor: points.map((s) => (s.partial ? "#ffffff" : LINE)),
  }];
  if (points.some((s) => s.margin_kg)) {
    datasets.push({ label: "−95 %", data: points.map((s, i) => (kg[i] === null ? null : Math.max(0, kg[i] - s.margin_kg))),
      borderWidth: 0, pointRadius: 0, fill: false, tension: 0 });
    datasets.push({ label: "+95 %", data: points.map((s, i) => (kg[i] === null ? null : kg[i] + s.margin_kg)),
      borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: "rgba(11, 110, 79, 0.15)", tension: 0 });
  }
  const hidden = points.map((s, i) => (s.hidden ? i : -1)).filter((i) => i >= 0);
  chart("co2-chart", {
    type: "line",
    data: { labels: points.map((s) => (s.partial ? [s.label, s.partial] : s.label)), datasets },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, min: 0, title: { display: true, text: "kg CO2e" } } },
      plugins: { legend: { display: false }, hiddenColumns: { indices: hidden } },
    },
    plugins: [hiddenColumns],
  }, t("co2Title"));
  state.counts.co2 = hidden.length;
  note("co2-hidden", [noisy ? t("noneHiddenNoise") : TEXT[state.lang].cellsHidden(hidden.length),
    partial.some(Boolean) ? t("partialNote") : null]);
  table("co2-table", t("co2Caption"), [t("period"), t("co2kg"), ...(noisy ? [t("margin")] : [])],
    points.map((s, i) => [
      { text: s.partial ? `${s.label} (${s.partial})` : s.label },
      s.hidden ? { text: hiddenText(), hidden: true } : { text: number(kg[i], 1), value: kg[i] },
      ...(noisy ? [{ text: s.margin_kg ? `± ${number(s.margin_kg, 1)}` : "–" }] : []),
    ]));
}

// -- departure hours ----------------------------------------------------------------------------------------

function drawHours(body, noisy) {
  const buckets = body.buckets || [];
  const hours = [...Array(24).keys()];
  const bucket = (h) => buckets.find((x) => x.hour === h);
  const hidden = hours.filter((h) => bucket(h) && bucket(h).suppressed);
  const values = hours.map((h) => { const b = bucket(h); return b ? (b.suppressed ? null : b.trips) : 0; });
  chart("hour-chart", {
    type: "bar",
    data: { labels: hours.map((h) => TEXT[state.lang].hour(h)),
      datasets: [{ label: t("trips"), backgroundColor: "#3a86ff", data: values }] },
    options: { animation: false, responsive: true, maintainAspectRatio: false,
      scales: { y: { beginAtZero: true } },
      plugins: { legend: { display: false }, hiddenColumns: { indices: hidden } } },
    plugins: [hiddenColumns],
  }, t("hourTitle"));
  state.counts.hours = hidden.length;
  note("hour-hidden", [noisy ? t("noneHiddenNoise") : TEXT[state.lang].cellsHidden(hidden.length)]);
  table("hour-table", t("hourCaption"), [t("hourTitle"), t("trips")], hours.map((h, i) => {
    const b = bucket(h);
    return [{ text: TEXT[state.lang].hour(h) }, values[i] === null ? { text: hiddenText(), hidden: true }
      : { text: plusMinus(values[i], b && b.margin_95 ? b.margin_95.trips : null), value: values[i] }];
  }));
}

// -- the map --------------------------------------------------------------------------------------------------

function zoomControl() {
  if (state.zoom) state.zoom.remove();
  state.zoom = L.control.zoom({ zoomInTitle: t("zoomIn"), zoomOutTitle: t("zoomOut") }).addTo(state.map);
}

function ensureMap() {
  if (state.map) return;
  state.map = L.map("map", { zoomControl: false, attributionControl: false }).setView([46.16, -1.15], 11);
  zoomControl();
  L.control.attribution({ prefix: '<a href="https://leafletjs.com">Leaflet</a>' }).addTo(state.map);
  // Tiles carry the page's origin as their Referer (tile servers ask who uses them); the page itself
  // sends none elsewhere.
  state.tiles = L.tileLayer(CONFIG.tileUrl, {
    attribution: CONFIG.tileAttribution, maxZoom: 19, referrerPolicy: "strict-origin",
  });
  state.tiles.on("tileload", () => { state.tilesLoaded += 1; });
  state.tiles.on("tileerror", () => {
    state.tileErrors += 1;
    document.getElementById("tiles-note").hidden = false;
  });
  state.tiles.addTo(state.map);
  state.renderer = L.svg({ padding: 0.5 }).addTo(state.map);
  const svg = state.map.getPanes().overlayPane.querySelector("svg");
  const ns = "http://www.w3.org/2000/svg";
  const defs = document.createElementNS(ns, "defs");
  const pattern = document.createElementNS(ns, "pattern");
  Object.entries({ id: "hatch", patternUnits: "userSpaceOnUse", width: 8, height: 8, patternTransform: "rotate(45)" })
    .forEach(([k, v]) => pattern.setAttribute(k, v));
  const back = document.createElementNS(ns, "rect");
  Object.entries({ width: 8, height: 8, fill: "#f1f1f1" }).forEach(([k, v]) => back.setAttribute(k, v));
  const line = document.createElementNS(ns, "rect");
  Object.entries({ width: 3, height: 8, fill: "#6b6b6b" }).forEach(([k, v]) => line.setAttribute(k, v));
  pattern.append(back, line);
  defs.appendChild(pattern);
  svg.insertBefore(defs, svg.firstChild);
}

// A zone's figure for the measure: { value } or { hidden: true } (a suppressed cell, never a zero).
function measureOf(feature, measure) {
  const p = feature.properties;
  if (measure.startsWith("share:")) {
    const mode = measure.slice(6);
    if ((p.modes_hidden || []).includes(mode)) return { hidden: true };
    const v = p.mode_share_trips[mode];
    if (v === null) return { hidden: true };
    return { value: v === undefined ? 0 : v };
  }
  const v = p[measure];
  return v === null || v === undefined ? { hidden: true } : { value: v };
}

function measureText(m, measure) {
  if (m.hidden) return hiddenText();
  if (measure.startsWith("share:")) return `${number(m.value * 100)} %`;
  return measure === "co2e_g" ? `${number(m.value / 1000, 1)} kg` : number(m.value);
}

function measureLabel(measure) {
  const option = [...document.getElementById("measure").options].find((o) => o.value === measure);
  return option ? option.textContent : measure;
}

function centroid(geometry) {
  const polygons = geometry.type === "MultiPolygon" ? geometry.coordinates : [geometry.coordinates];
  let best = null;
  polygons.forEach((rings) => {
    const ring = rings[0];
    let a = 0; let x = 0; let y = 0;
    for (let i = 0; i < ring.length - 1; i += 1) {
      const [x0, y0] = ring[i]; const [x1, y1] = ring[i + 1];
      const cross = x0 * y1 - x1 * y0;
      a += cross; x += (x0 + x1) * cross; y += (y0 + y1) * cross;
    }
    if (a === 0) return;
    const found = { area: Math.abs(a / 2), lat: y / (3 * a), lon: x / (3 * a) };
    if (!best || found.area > best.area) best = found;
  });
  return best ? [best.lat, best.lon] : null;
}

// A gentle arc from a to b, bowing to the right of the way travelled, so that both ways of a pair show.
function arc(a, b) {
  const [lat0, lon0] = a; const [lat1, lon1] = b;
  const mid = [(lat0 + lat1) / 2, (lon0 + lon1) / 2];
  const control = [mid[0] - (lon1 - lon0) * 0.18, mid[1] + (lat1 - lat0) * 0.18];
  const points = [];
  for (let i = 0; i <= 16; i += 1) {
    const s = i / 16;
    points.push([(1 - s) ** 2 * lat0 + 2 * (1 - s) * s * control[0] + s * s * lat1,
      (1 - s) ** 2 * lon0 + 2 * (1 - s) * s * control[1] + s * s * lon1]);
  }
  return points;
}

function tooltip(layer, text) {
  // Leaflet puts a string tooltip in as HTML: give it a text node, so a zone code is never markup.
  const tip = document.createElement("span");
  tip.textContent = text;
  layer.bindTooltip(tip, { sticky: true });
}

function drawMap(body, fit) {
  ensureMap();
  if (state.layer) state.map.removeLayer(state.layer);
  const measure = document.getElementById("measure").value;
  const features = body.features || [];
  const figures = features.map((f) => measureOf(f, measure));
  const values = figures.filter((m) => !m.hidden).map((m) => m.value);
  const max = Math.max(...values, 0);
  const color = (v) => (max === 0 ? SCALE[0] : SCALE[Math.min(SCALE.length - 1, Math.floor((v / max) * (SCALE.length - 1)))]);
  const publication = body.k !== undefined;
  state.layer = L.geoJSON(body, {
    renderer: state.renderer,
    style: (f) => {
      const m = measureOf(f, measure);
      return m.hidden
        ? { color: "#555", weight: 1, dashArray: "3 3", fillOpacity: 0.9, fillColor: "url(#hatch)", className: "zone zone-hidden" }
        : { color: "#335", weight: 0.6, fillOpacity: 0.75, fillColor: color(m.value), className: "zone" };
    },
    onEachFeature: (f, layer) => {
      const p = f.properties;
      const m = p.margin_95 || {};
      const figure = measureOf(f, measure);
      const shown = measure.startsWith("share:") ? `; ${measureLabel(measure)}: ${measureText(figure, measure)}` : "";
      tooltip(layer, `${zoneName(p.zone)}: ${plusMinus(p.trips, m.trips)} ${t("trips")}, ` +
        `${plusMinus(p.co2e_g / 1000, m.co2e_g === undefined ? undefined : m.co2e_g / 1000, 1)} kg CO2e${shown}`);
    },
  }).addTo(state.map);
  if (state.flowLayer) state.flowLayer.bringToFront();  // flows over the zones they join
  if (fit && features.length) state.map.fitBounds(state.layer.getBounds(), { maxZoom: 13 });
  const hiddenHere = figures.filter((m) => m.hidden).length;
  state.counts.map = { zonesHidden: body.zones_hidden || 0, measureHidden: hiddenHere };

  const legend = document.getElementById("legend");
  legend.textContent = "";
  const item = (swatchClass, background, text) => {
    const span = document.createElement("span");
    const swatch = document.createElement("i");
    if (swatchClass) swatch.className = swatchClass;
    if (background) swatch.style.background = background;
    span.appendChild(swatch);
    span.appendChild(document.createTextNode(text));
    legend.appendChild(span);
  };
  if (features.length) {
    (max > 0 ? SCALE : SCALE.slice(0, 1)).forEach((c, j) => {
      const v = (max * j) / (SCALE.length - 1);
      item(null, c, measureText({ value: v }, measure));
    });
  }
  if (publication) item("hatched", null, TEXT[state.lang].hiddenLegend(body.k));
  if (state.flowMax) item("flow-swatch", null, TEXT[state.lang].flowsLegend(number(state.flowMax)));

  const mode = measure.startsWith("share:") ? measure.slice(6) : null;
  const lines = [publication ? TEXT[state.lang].zonesHidden(body.zones_hidden || 0, body.k)
    : TEXT[state.lang].zonesHiddenNoise(body.zones_hidden || 0)];
  if (mode && hiddenHere) {
    lines.push(TEXT[state.lang].shareHidden(hiddenHere, (TEXT[state.lang].ofMode || {})[mode] || modeName(mode)));
  }
  note("map-hidden", lines);
  table("zones-table", TEXT[state.lang].zonesCaption(measureLabel(measure)),
    [t("zone"), ...(publication ? [t("people")] : []), t("trips"), t("co2kg"), measureLabel(measure)],
    features.map((f, j) => {
      const p = f.properties;
      const m = p.margin_95 || {};
      return [
        { text: zoneName(p.zone) },
        ...(publication ? [{ text: number(p.people), value: p.people }] : []),
        { text: plusMinus(p.trips, m.trips), value: p.trips },
        { text: plusMinus(p.co2e_g / 1000, m.co2e_g === undefined ? undefined : m.co2e_g / 1000, 1), value: p.co2e_g / 1000 },
        figures[j].hidden ? { text: hiddenText(), hidden: true, className: "measure" }
          : { text: measureText(figures[j], measure), value: figures[j].value, className: "measure" },
      ];
    }));
}

// Origin-destination flows: arcs between zone centroids, their width by trips; in the table, largest first.
function drawFlows(od, centroids) {
  if (state.flowLayer) { state.map.removeLayer(state.flowLayer); state.flowLayer = null; }
  state.flowMax = null;
  if (!od) return;
  const flows = (od.flows || []).filter((f) => !f.suppressed);
  const placed = flows.filter((f) => centroids[f.origin] && centroids[f.destination]);
  const max = Math.max(0, ...placed.map((f) => f.trips));
  state.flowLayer = L.featureGroup().addTo(state.map);
  placed.forEach((f) => {
    const weight = 2 + (10 * f.trips) / (max || 1);
    const text = `${zoneName(f.origin)} → ${zoneName(f.destination)}: ${plusMinus(f.trips, (f.margin_95 || {}).trips)} ${t("trips")}`;
    const layer = f.origin === f.destination
      ? L.circleMarker(centroids[f.origin], { renderer: state.renderer, radius: 3 + weight, weight: 2, color: FLOW,
        fillOpacity: 0.15, className: "flow flow-loop" })
      : L.polyline(arc(centroids[f.origin], centroids[f.destination]), { renderer: state.renderer, weight,
        color: FLOW, opacity: 0.7, lineCap: "round", className: "flow" });
    layer.flow = f;
    layer.size = weight;  // a line's width, a loop's radius beyond its least
    tooltip(layer, text);
    layer.addTo(state.flowLayer);
  });
  state.flowMax = placed.length ? max : null;
  state.counts.flows = { drawn: placed.length, hidden: od.flows_hidden || 0, outside: flows.length - placed.length };
}

function drawOd(body) {
  const lines = [];
  if (!body || body.failed) {
    const why = body && (body.failed.status === 409 ? t("budgetOut") : "") + body.failed.message;
    note("od-hidden", [body ? t("odFailed") + why : t("odGrid")]);
    table("od", t("odCaption"), [t("origin"), t("destination"), t("trips"), t("margin"), t("co2kg")], []);
    return;
  }
  const flows = (body.flows || []).filter((f) => !f.suppressed).sort((a, b) => b.trips - a.trips);
  const hidden = body.flows_hidden || 0;
  if (!flows.length && hidden) lines.push(TEXT[state.lang].flowsAllHidden(hidden));
  else if (hidden) lines.push(TEXT[state.lang].flowsHidden(hidden));
  const outside = state.counts.flows ? state.counts.flows.outside : 0;
  if (outside) lines.push(TEXT[state.lang].flowsOutside(outside));
  note("od-hidden", lines);
  table("od", t("odCaption"), [t("origin"), t("destination"), t("trips"), t("margin"), t("co2kg")],
    flows.map((f) => [
      { text: zoneName(f.origin) }, { text: zoneName(f.destination) },
      { text: number(f.trips), value: f.trips }, { text: `± ${number((f.margin_95 || {}).trips || 0)}` },
      { text: number(f.co2e_g / 1000, 1), value: f.co2e_g / 1000 },
    ]));
}

async function shapesOf(zoneSetName) {
  const set = state.zoneSets[zoneSetName];
  if (!set || set.kind !== "polygons") return {};
  if (!state.shapes[set.id]) {
    const body = await api(`/v1/operator/zone-sets/${encodeURIComponent(set.id)}`);
    const centroids = {};
    body.features.forEach((f) => { const c = centroid(f.geometry); if (c) centroids[f.properties.code] = c; });
    state.shapes[set.id] = centroids;
  }
  return state.shapes[set.id];
}

// -- loading and drawing ----------------------------------------------------------------------------------------

function budgetText(bodies) {
  const months = {};
  bodies.forEach((b) => b.protection.differential_privacy.budget.forEach((m) => { months[m.month] = m.remaining_epsilon; }));
  return Object.keys(months).sort().map((m) => `${m} ε ${Number(months[m]).toFixed(2)}`).join(", ");
}

function filters() {
  return {
    from: document.getElementById("from").value,
    to: document.getElementById("to").value,
    zone_set: document.getElementById("zone-set").value,
  };
}

function source() { return document.getElementById("source").value; }

async function fetchQuery() {
  const f = filters();
  const period = document.getElementById("period").value;
  const polygons = (state.zoneSets[f.zone_set] || {}).kind === "polygons";
  const [share, series, hours, zones, od, centroids] = await Promise.all([
    api("/v1/operator/stats/modal-share", { ...f, period }),
    api("/v1/operator/stats/timeseries", { ...f, period }),
    api("/v1/operator/stats/profile", { ...f, by: "hour" }),
    api("/v1/operator/stats/zones", f),
    polygons ? api("/v1/operator/stats/od", f).catch((error) => ({ failed: error })) : Promise.resolve(null),
    polygons ? shapesOf(f.zone_set).catch(() => ({})) : Promise.resolve({}),
  ]);
  return { source: "query", period, share, series, hours, zones, od, centroids };
}

function renderQuery(d) {
  const { share, series, hours, zones } = d;
  const od = d.od && !d.od.failed ? d.od : null;  // flows that could not be read are said so by drawOd
  const part = (start) => {
    const p = partOf(start, d.period, share.from, share.to);
    return p ? TEXT[state.lang].partial(p.counted, p.of) : null;
  };
  drawShare(share.periods.map((p) => ({ label: p.start, partial: part(p.start), total: p.total, modes: p.modes })), true);
  drawCo2(series.series.map((s) => ({ label: s.start, partial: part(s.start), co2e_g: s.co2e_g,
    margin_kg: ((s.margin_95 || {}).co2e_g || 0) / 1000 })), true);
  drawHours(hours, true);
  drawFlows(od, d.centroids || {});
  drawMap(zones, d.fit);
  drawOd(d.od);
  const dp = share.protection.differential_privacy;
  const trips = dp.measures.find((m) => m.measure === "trips");
  document.getElementById("protection").textContent = TEXT[state.lang].privacy({
    epsilon: dp.epsilon, months: dp.months.join(", "), margin: number(trips ? trips.margin_95 : 0),
    budget: budgetText([share, series, hours, zones].concat(od ? [od] : [])),
  });
  setStatus(t("loaded"));
}

async function fetchPublication() {
  const zoneSet = document.getElementById("zone-set").value;
  const month = document.getElementById("month").value;
  if (!month) return { source: "publication", none: true };
  const [publication, map] = await Promise.all([
    api(`/v1/operator/publications/${encodeURIComponent(zoneSet)}/${month}`),
    api(`/v1/operator/publications/${encodeURIComponent(zoneSet)}/${month}/map`),
  ]);
  return { source: "publication", period: document.getElementById("period").value, publication, zones: map };
}

const NOBODY = { trips: 0, co2e_g: 0, people: 0, suppressed: false };

// The periods of a publication's month: every day and every week whose Sunday is in it, and the month. A
// period absent from the tables had no traveller at all: it is a true zero.
function publicationRows(publication, period) {
  const tables = publication.tables;
  if (period === "day") {
    const byDay = Object.fromEntries(tables.days.map((d) => [d.day, d]));
    return monthDays(publication.month).map((day) => ({ label: day, total: (byDay[day] || {}).total || NOBODY,
      modes: (byDay[day] || {}).modes || [] }));
  }
  if (period === "week") {
    const byMonday = Object.fromEntries(tables.weeks.map((w) => [w.from, w]));
    const mondays = monthDays(publication.month).filter((d) => utcDay(d).getUTCDay() === 0).map((d) => addDays(d, -6));
    return mondays.map((monday) => ({ label: monday, total: (byMonday[monday] || {}).total || NOBODY,
      modes: (byMonday[monday] || {}).modes || [] }));
  }
  return [{ label: publication.month, total: tables.month.total || NOBODY, modes: tables.month.modes }];
}

function renderPublication(d) {
  if (d.none) {
    drawShare([], false);
    drawCo2([], false);
    drawFlows(null, {});
    drawMap({ type: "FeatureCollection", features: [] }, false);
    document.getElementById("protection").textContent = "";
    setStatus(t("noPublication"));
    return;
  }
  const { publication, zones } = d;
  const rows = publicationRows(publication, d.period);
  drawShare(rows, false);
  drawCo2(rows.map((r) => ({ label: r.label, hidden: Boolean(r.total.suppressed), co2e_g: r.total.co2e_g })), false);
  drawFlows(null, {});
  drawMap(zones, d.fit);
  document.getElementById("protection").textContent = TEXT[state.lang].publication({
    month: publication.month, k: publication.k, hidden: number(publication.summary.cells_suppressed),
  });
  setStatus(zones.features.length ? t("loaded") : t("noData"));
}

function render() {
  const d = state.data;
  if (!d.source) return;
  if (d.source === "publication") renderPublication(d);
  else renderQuery(d);
  d.fit = false;
  state.renders = (state.renders || 0) + 1;
}

function setStatus(text) { document.getElementById("status").textContent = text; }

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
    const data = source() === "publication" ? await fetchPublication() : await fetchQuery();
    data.fit = true;
    state.data = data;
    render();
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
  ensureMap();
  state.map.invalidateSize();
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
  render();
});
document.getElementById("filters").addEventListener("change", async (event) => {
  if (event.target.id === "measure" && state.data.zones) { drawMap(state.data.zones, false); return; }
  if (event.target.id === "zone-set") await months().catch(() => {});
  refresh();
});

translate();
if (state.token) start().catch(signOut);
