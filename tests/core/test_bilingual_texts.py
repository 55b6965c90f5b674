"""A static reading of app/: every problem detail is a `Msg` with an English and a French text.

A literal string or an f-string handed to ProblemError, invalid_field, not_found, unauthorized, … would
reach a French reader in English; a `Msg` whose two templates name different parameters would fail, or
say less, in one of the languages. Both are caught here, before any request is made.
"""

from __future__ import annotations

import ast
import string
from collections.abc import Iterator
from pathlib import Path

from app.core.problems import PROBLEM_TYPES

APP = Path(__file__).resolve().parents[2] / "app"

#: callables that carry a text to the client: name -> (position, keyword) of that text
CARRIERS: dict[str, tuple[int, str]] = {
    "ProblemError": (2, "detail"),
    "problem_response": (2, "detail"),
    "invalid_field": (1, "detail"),
    "_invalid": (1, "detail"),
    "_field_problem": (1, "detail"),
    "not_found": (0, "what"),
    "unauthorized": (0, "detail"),
    "bad_file": (0, "detail"),
    "MsgValueError": (0, "msg"),
    "save_upload": (3, "what"),
}


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _calls() -> Iterator[tuple[str, ast.Call]]:
    for path in sorted(APP.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                yield f"{path.relative_to(APP.parent)}:{node.lineno}", node


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(call.args) > position and not any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _is_plain_text(node: ast.expr) -> bool:
    """A text built in one language only: a literal, an f-string, a concatenation, a join or a format."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, ast.JoinedStr | ast.BinOp):
        return True
    return isinstance(node, ast.Call) and _name(node.func) in ("join", "format", "str", "repr")


def _fields(template: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


def test_no_problem_detail_is_written_in_english_only() -> None:
    found = 0
    offenders = []
    for where, call in _calls():
        carrier = CARRIERS.get(_name(call.func))
        if carrier is None:
            continue
        argument = _argument(call, *carrier)
        if argument is None:
            continue
        found += 1
        if _is_plain_text(argument):
            offenders.append(f"{where}: {ast.unparse(argument)[:80]}")
    assert offenders == [], "texts for clients must be Msg(english, french, ...):\n" + "\n".join(offenders)
    assert found > 80  # the scan sees the call sites (about 90 when this test was written)


def test_both_templates_of_every_text_name_the_same_parameters_and_differ() -> None:
    checked = 0
    problems = []
    for where, call in _calls():
        if _name(call.func) != "Msg" or len(call.args) < 2:
            continue
        en, fr = call.args[0], call.args[1]
        if not (isinstance(en, ast.Constant) and isinstance(fr, ast.Constant)):
            continue
        assert isinstance(en.value, str) and isinstance(fr.value, str), where
        checked += 1
        english, french = _fields(en.value), _fields(fr.value)
        # French may need more (a plural mark, a word of its own: `period_fr`), never less.
        lost = {name for name in english - french if f"{name}_fr" not in french}
        if lost:
            problems.append(f"{where}: the French text leaves out {sorted(lost)}")
        if not any(k.arg is None for k in call.keywords):  # no **params: the keywords are all there is
            given = {k.arg for k in call.keywords}
            if given != english | french:
                problems.append(
                    f"{where}: the templates name {sorted(english | french)}, the call gives {sorted(given)}"
                )
        literal = "".join(text for text, _, _, _ in string.Formatter().parse(en.value))  # the words alone
        words = [ch for ch in literal if ch.isalpha()]
        if words and en.value == fr.value:
            problems.append(f"{where}: the French text is the English one: {en.value!r}")
    assert problems == [], "\n".join(problems)
    assert checked > 100


def test_every_problem_type_raised_is_described() -> None:
    slugs = set()
    for where, call in _calls():
        if _name(call.func) in ("ProblemError", "problem_response") and len(call.args) > 1:
            slug = call.args[1]
            if isinstance(slug, ast.Constant) and isinstance(slug.value, str):
                slugs.add((slug.value, where))
    missing = [f"{where}: {slug}" for slug, where in slugs if slug not in PROBLEM_TYPES]
    assert missing == []
    assert len(slugs) > 20


def test_validators_of_request_fields_give_their_reasons_in_both_languages() -> None:
    """A plain ValueError raised by a validator of app/core/schemas.py would reach a French reader in
    English: they raise MsgValueError."""
    tree = ast.parse((APP / "core" / "schemas.py").read_text(encoding="utf-8"))
    plain = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Raise)
        and isinstance(node.exc, ast.Call)
        and _name(node.exc.func) == "ValueError"
    ]
    assert plain == []
