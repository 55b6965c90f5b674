"""The reader's language, from `Accept-Language`: French (the territory's) or English.

Two defaults, for two kinds of reader, when the header names neither language:

- texts meant for people (coaching, the attestation, what is held of them) are in French, the territory's
  language (`get_lang`);
- problem details (error answers) are in English (`get_problem_lang`): they are read by integrators' code
  and logs first, and clients written before the French texts existed expect English. The phone app sends
  `Accept-Language` and gets its errors in the person's language.

A text that may reach a client in either language is a :class:`Msg`: its English and French templates and
their parameters, rendered in the reader's language only when the answer is written.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import Depends, Header

from app.emissions.coaching import Lang

SUPPORTED: tuple[Lang, ...] = ("fr", "en")

#: the language of problem details when `Accept-Language` names no supported language
PROBLEM_DEFAULT: Lang = "en"


def negotiate(header: str | None, default: Lang = "fr") -> Lang:
    """The supported language the header prefers most (q-values honoured); `default` when it names none."""
    if not header:
        return default
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
    return best[1] if best else default


async def get_lang(accept_language: Annotated[str | None, Header()] = None) -> Lang:
    return negotiate(accept_language)


async def get_problem_lang(accept_language: Annotated[str | None, Header()] = None) -> Lang:
    return negotiate(accept_language, PROBLEM_DEFAULT)


LangDep = Annotated[Lang, Depends(get_lang)]
ProblemLangDep = Annotated[Lang, Depends(get_problem_lang)]


class _FrenchNumber(float):
    """A float written with a decimal comma, as French writes numbers (`ε=0,5`)."""

    def __format__(self, spec: str) -> str:
        return format(float(self), spec).replace(".", ",")


class Msg:
    """A text in English and in French, with its parameters.

    The templates use `str.format` fields (`"No zone named {name!r}"`), filled from the keyword parameters
    when the text is rendered; a parameter may itself be a `Msg`, rendered in the same language. Floats
    are written with a decimal comma in French. `str()` gives the English text, for logs and exceptions.
    """

    __slots__ = ("en", "fr", "params")

    def __init__(self, en: str, fr: str, /, **params: Any) -> None:
        self.en = en
        self.fr = fr
        self.params: Mapping[str, Any] = params

    def render(self, lang: Lang) -> str:
        template = self.fr if lang == "fr" else self.en
        values = {name: _localized(value, lang) for name, value in self.params.items()}
        return template.format_map(values)

    def fields(self) -> tuple[set[str], set[str]]:
        """The parameter names the English and the French templates use."""
        return _field_names(self.en), _field_names(self.fr)

    def __str__(self) -> str:
        return self.render("en")

    def __repr__(self) -> str:
        return f"Msg({self.en!r}, {self.fr!r}, **{dict(self.params)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Msg):
            return NotImplemented
        return (self.en, self.fr, dict(self.params)) == (other.en, other.fr, dict(other.params))

    def __hash__(self) -> int:
        return hash((self.en, self.fr))


def _localized(value: Any, lang: Lang) -> Any:
    if isinstance(value, Msg):
        return value.render(lang)
    if lang == "fr" and isinstance(value, float):
        return _FrenchNumber(value)
    return value


def _field_names(template: str) -> set[str]:
    return {
        name.split(".")[0].split("[")[0]
        for _, name, _, _ in string.Formatter().parse(template)
        if name is not None
    }


def join(items: Sequence[Msg], separator: str = ", ") -> Msg:
    """Several texts as one, in the same language, `separator` between them."""
    template = separator.replace("{", "{{").replace("}", "}}").join(f"{{_{i}}}" for i in range(len(items)))
    return Msg(template, template, **{f"_{i}": item for i, item in enumerate(items)})


def render(text: Msg | str, lang: Lang) -> str:
    """A `Msg` in `lang`; a plain string as it is (text that has no translation, such as a library's)."""
    return text.render(lang) if isinstance(text, Msg) else text


class MsgValueError(ValueError):
    """A ValueError whose reason is a `Msg`, for validators: the problem answer gives it in the reader's
    language; `str()` is the English text, as for any ValueError."""

    def __init__(self, msg: Msg) -> None:
        super().__init__(str(msg))
        self.msg = msg
