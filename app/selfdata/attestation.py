"""The sustainable-mobility allowance attestation (forfait mobilités durables).

French employers may pay the *forfait mobilités durables* (Code des transports L1231-1 and Code du
travail L3261-3-1) for commuting by bike (electric or not), carpooling (driver or passenger), public
transport outside a season ticket, and shared or personal light vehicles such as e-scooters. This module
counts, for one calendar year, the days with at least one such commute and renders a page the person can
hand to their employer: an HTML page that prints cleanly, and the same as a PDF.

A trip counts when the person labelled it (or a trip between the same places) `commute`, and modes that
qualify cover at least half of its distance: walking to the tram stop does not disqualify a tram commute,
and a 100 m walk after parking does not make a car commute a qualifying one. The person's name is not
held by the service: the document leaves a line for it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF

from app.emissions.coaching import Lang

ELIGIBLE_MODES = frozenset(
    {"bike", "ebike", "escooter", "carpool", "bus", "coach", "tram", "metro", "train", "boat"}
)


@dataclass(frozen=True)
class CommuteLeg:
    mode: str
    distance_m: float


@dataclass(frozen=True)
class CommuteTrip:
    start_ts_ms: int
    purpose: str | None
    legs: Sequence[CommuteLeg]


@dataclass(frozen=True)
class AllowanceDay:
    day: date
    modes: tuple[str, ...]


def qualifying_days(trips: Sequence[CommuteTrip], year: int, zone: ZoneInfo) -> list[AllowanceDay]:
    """The local days of `year` with at least one qualifying commute, with the qualifying modes used."""
    days: dict[date, set[str]] = {}
    for trip in trips:
        if trip.purpose != "commute" or not trip.legs:
            continue
        total = sum(leg.distance_m for leg in trip.legs)
        eligible = [leg for leg in trip.legs if leg.mode in ELIGIBLE_MODES]
        if total <= 0 or sum(leg.distance_m for leg in eligible) * 2 < total:
            continue
        day = datetime.fromtimestamp(trip.start_ts_ms / 1000, UTC).astimezone(zone).date()
        if day.year != year:
            continue
        days.setdefault(day, set()).update(leg.mode for leg in eligible)
    return [AllowanceDay(d, tuple(sorted(m))) for d, m in sorted(days.items())]


TEXT: dict[Lang, dict[str, str]] = {
    "fr": {
        "title": "Attestation de déplacements domicile-travail",
        "subtitle": "Forfait mobilités durables - année {year}",
        "intro": (
            "Ce document récapitule les jours de l'année {year} où la personne ci-dessous a effectué "
            "au moins un trajet domicile-travail à vélo, en covoiturage, en transports publics ou en "
            "engin de déplacement personnel, tels qu'enregistrés par Coach CO2 à partir des traces "
            "de son téléphone."
        ),
        "name": "Nom et prénom : ",
        "employer": "Employeur : ",
        "count": "Nombre de jours : {count}",
        "date": "Date",
        "modes": "Modes",
        "generated": "Établi le {today} à la demande de la personne, identifiant pseudonyme {user}.",
        "signature": "Signature :",
        "none": "Aucun jour éligible enregistré pour cette année.",
    },
    "en": {
        "title": "Commuting attestation",
        "subtitle": "Sustainable-mobility allowance (forfait mobilités durables) - year {year}",
        "intro": (
            "This document lists the days of {year} on which the person below made at least one commute by "
            "bike, carpool, public transport or personal light vehicle, as recorded by Coach CO2 from their "
            "phone's traces."
        ),
        "name": "Name: ",
        "employer": "Employer: ",
        "count": "Number of days: {count}",
        "date": "Date",
        "modes": "Modes",
        "generated": "Issued on {today} at the person's request, pseudonymous id {user}.",
        "signature": "Signature:",
        "none": "No eligible day recorded for this year.",
    },
}


NAMES: dict[Lang, dict[str, str]] = {
    "fr": {"bike": "vélo", "ebike": "vélo à assistance électrique", "escooter": "trottinette",
           "carpool": "covoiturage", "bus": "bus", "coach": "car", "tram": "tramway", "metro": "métro",
           "train": "train", "boat": "bateau"},
    "en": {"bike": "bike", "ebike": "e-bike", "escooter": "e-scooter", "carpool": "carpool", "bus": "bus",
           "coach": "coach", "tram": "tram", "metro": "metro", "train": "train", "boat": "boat"},
}  # fmt: skip


def _modes(modes: Sequence[str], lang: Lang) -> str:
    return ", ".join(NAMES[lang].get(m, m) for m in modes)


def render_html(days: Sequence[AllowanceDay], year: int, user_id: str, today: date, lang: Lang) -> str:
    t = TEXT[lang]
    rows = "\n".join(
        f"<tr><td>{d.day.isoformat()}</td><td>{html.escape(_modes(d.modes, lang))}</td></tr>" for d in days
    )
    table = (
        f"<table><thead><tr><th>{t['date']}</th><th>{t['modes']}</th></tr></thead><tbody>{rows}</tbody></table>"
        if days
        else f"<p>{t['none']}</p>"
    )
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(t["title"])} {year}</title>
<style>
  body {{ font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; }}
  h1 {{ font-size: 1.5rem; margin-bottom: 0.2rem; }}
  h2 {{ font-size: 1.1rem; font-weight: normal; color: #333; margin-top: 0; }}
  table {{ border-collapse: collapse; width: 100%; margin: 1rem 0; }}
  th, td {{ border: 1px solid #999; padding: 0.3rem 0.6rem; text-align: left; }}
  .line {{ border-bottom: 1px solid #111; display: inline-block; min-width: 20rem; }}
  footer {{ margin-top: 2rem; font-size: 0.9rem; color: #333; }}
  @media print {{ body {{ margin: 0; }} }}
</style>
</head>
<body>
<h1>{html.escape(t["title"])}</h1>
<h2>{html.escape(t["subtitle"].format(year=year))}</h2>
<p>{html.escape(t["intro"].format(year=year))}</p>
<p>{html.escape(t["name"])}<span class="line">&nbsp;</span></p>
<p>{html.escape(t["employer"])}<span class="line">&nbsp;</span></p>
<p><strong>{html.escape(t["count"].format(count=len(days)))}</strong></p>
{table}
<footer>
<p>{html.escape(t["generated"].format(today=today.isoformat(), user=user_id))}</p>
<p>{html.escape(t["signature"])}</p>
</footer>
</body>
</html>
"""


def render_pdf(days: Sequence[AllowanceDay], year: int, user_id: str, today: date, lang: Lang) -> bytes:
    """The same attestation as an A4 PDF (core fonts: Latin-1 text only, which French needs no more than)."""
    t = TEXT[lang]
    pdf = FPDF(format="A4")
    pdf.set_title(f"{t['title']} {year}")
    pdf.set_creator("Coach CO2")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(width, 8, t["title"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 12)
    pdf.multi_cell(width, 7, t["subtitle"].format(year=year), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(width, 5, t["intro"].format(year=year), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for label in (t["name"], t["employer"]):
        pdf.cell(40, 7, label)
        pdf.cell(width - 40, 7, "", border="B", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(width, 7, t["count"].format(count=len(days)), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    if days:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(40, 7, t["date"], border=1)
        pdf.cell(width - 40, 7, t["modes"], border=1, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)
        for d in days:
            pdf.cell(40, 6, d.day.isoformat(), border=1)
            pdf.cell(width - 40, 6, _modes(d.modes, lang), border=1, new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.cell(width, 7, t["none"], new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(
        width, 5, t["generated"].format(today=today.isoformat(), user=user_id), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.ln(2)
    pdf.cell(width, 6, t["signature"], new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
