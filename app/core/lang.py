"""The person's language, from `Accept-Language`: French (the territory's) or English."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from app.emissions.coaching import Lang

SUPPORTED: tuple[Lang, ...] = ("fr", "en")


def negotiate(header: str | None) -> Lang:
    """The supported language the header prefers most (q-values honoured); French when none is named."""
    if not header:
        return "fr"
    best: tuple[float, Lang] | None = None
    for part in header.split(","):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()
        quality = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.split("-")[0]
        for lang in SUPPORTED:
            if primary == lang and quality > 0 and (best is None or quality > best[0]):
                best = (quality, lang)
    return best[1] if best else "fr"


def get_lang(accept_language: Annotated[str | None, Header()] = None) -> Lang:
    return negotiate(accept_language)


LangDep = Annotated[Lang, Depends(get_lang)]
