"""Settings the service refuses, told as an administrator sets them: one environment variable and one
reason each, without the value received (it may be a password or a token)."""

from __future__ import annotations

import re

from pydantic import AliasChoices, ValidationError

from app.settings import Settings

PREFIX = Settings.model_config.get("env_prefix", "COACHCO2_")

# What the production check lists: `NAME (reason)`, `NAME=value (reason)` or `NAME reason`, joined by "; ".
_LISTED = re.compile(r"^(?P<name>[A-Z][A-Z0-9_]*)(?:=\S*)?\s*(?P<reason>.*)$")


def variable(field_or_alias: str) -> str:
    """The environment variable that sets a field (`stats_k` is COACHCO2_STATS_K, `database_url` is
    DATABASE_URL); pydantic names an aliased field by its alias, which is the variable already."""
    field = Settings.model_fields.get(field_or_alias)
    if field is None:
        return field_or_alias.upper()
    alias = field.validation_alias
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return f"{PREFIX}{field_or_alias}".upper()


def _reason(message: str) -> str:
    """pydantic's message as the end of a sentence: no "Value error, " label, no brackets, a lower-case
    first word unless it is a name (DATABASE_URL)."""
    message = message.removeprefix("Value error, ").strip()
    if message.startswith("(") and message.endswith(")"):
        message = message[1:-1]
    if message[1:2].islower():
        message = message[:1].lower() + message[1:]
    return message


def setting_problems(error: ValidationError) -> list[tuple[str | None, str]]:
    """(variable, reason) for each refused setting, in the order pydantic found them; the variable is
    None for a reason that names none."""
    problems: list[tuple[str | None, str]] = []
    for item in error.errors(include_url=False, include_input=False):
        message = str(item["msg"])
        if item["loc"]:
            problems.append((variable(str(item["loc"][0])), _reason(message)))
            continue
        # A check across settings (production mode) lists the variables it refuses in one message.
        listed = message.removeprefix("Value error, ").split(": ", 1)[-1]
        for part in listed.split("; "):
            match = _LISTED.match(part.strip())
            if match is None:
                problems.append((None, _reason(part)))
            else:
                problems.append((match["name"], _reason(match["reason"]) or "refused in production"))
    return problems


def describe(error: ValidationError, program: str = "coachco2") -> list[str]:
    """One line per refused setting, e.g. `coachco2: invalid setting COACHCO2_STATS_K: input should be
    a valid integer, unable to parse string as an integer`."""
    return [
        f"{program}: invalid setting {name}: {reason}" if name else f"{program}: invalid settings: {reason}"
        for name, reason in setting_problems(error)
    ]
