"""The tree keeps its rooms: SQL is written in repositories only (and in the models and the engine set-up)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
# Besides every domain's repository.py: the table models, the engine (SQLite pragmas), the migrations runner.
ALLOWED = {"models.py", "core/db.py", "core/migrate.py"}
# Debt, to be moved into app/openpath/repository.py and app/selfdata/repository.py: the OpenPATH routes'
# queries were written beside their code.
ALLOWED |= {"openpath/auth.py", "openpath/diary_endpoints.py", "openpath/endpoints.py", "openpath/labels.py",
            "selfdata/export.py"}  # fmt: skip
# Type hints (AsyncSession) and error classes (OperationalError) are not SQL.
HARMLESS_MODULES = ("sqlalchemy.ext.asyncio", "sqlalchemy.exc", "sqlalchemy.orm.exc")
QUERY_CALLS = {"execute", "scalar", "scalars", "stream", "stream_scalars", "execute_many"}
SESSION_CALLS = {"get", "add", "add_all", "delete", "merge", "flush", "refresh"}
SESSION_NAMES = {"session", "conn", "connection", "db_session"}


def sql_in(source: str) -> list[str]:
    """What in this module's source is SQL: sqlalchemy imports and query or unit-of-work calls."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                f"line {node.lineno}: import {a.name}" for a in node.names if a.name.startswith("sqlalchemy")
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            if not (node.module or "").startswith(HARMLESS_MODULES):
                found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr, owner = node.func.attr, node.func.value
            owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            talks_to_db = owner_name in SESSION_NAMES or owner_name.endswith("session")
            if talks_to_db and attr in QUERY_CALLS | SESSION_CALLS:
                found.append(f"line {node.lineno}: {owner_name}.{attr}(...)")
    return found


def test_the_scanner_sees_sql_and_lets_type_hints_pass() -> None:
    assert sql_in("import sqlalchemy as sa\n")
    assert sql_in("async def f(session):\n    await session.execute(q)\n")
    assert sql_in("async def f(session):\n    session.add(row)\n")
    assert not sql_in(
        "from sqlalchemy.ext.asyncio import AsyncSession\nasync def f(s):\n    await s.commit()\n"
    )


def test_sql_lives_in_repositories_only() -> None:
    offenders = {}
    for path in sorted(APP.rglob("*.py")):
        relative = path.relative_to(APP).as_posix()
        if path.name == "repository.py" or relative in ALLOWED:
            continue
        found = sql_in(path.read_text())
        if found:
            offenders[relative] = found
    assert offenders == {}, "SQL outside the repositories:\n" + "\n".join(
        f"app/{name}: {'; '.join(items)}" for name, items in offenders.items()
    )


def test_the_code_cites_only_documents_of_the_repository() -> None:
    research = APP.parent / "docs" / "research.md"
    assert research.exists()
    citing = [p.relative_to(APP).as_posix() for p in APP.rglob("*.py") if "RESEARCH.md" in p.read_text()]
    assert citing == []
    headings = {line[3:].strip() for line in research.read_text().splitlines() if line.startswith("## ")}
    for path in APP.rglob("*.py"):
        for cited in re.findall(r'docs/research\.md, "([^"]+)"', path.read_text()):
            assert cited in headings, f"app/{path.relative_to(APP)} cites a missing section: {cited}"
