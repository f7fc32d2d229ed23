"""The cuts of the code base, checked on the AST of every module under src/fhircrm (issues 13 and 17).

Each rule is a ``Rule`` in ``RULES``: a name, the reason, and a check that yields (line, what) for a module. A
broken rule fails with every offending ``path:line`` named. Add rules to the list; keep exceptions named, with why.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. fhircrm.indicators.matched
    path: Path
    tree: ast.Module

    @property
    def package(self) -> str:
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]

    def within(self, prefix: str) -> bool:
        return self.name == prefix or self.name.startswith(prefix + ".")

    def imports(self) -> Iterator[tuple[int, str]]:
        """(line, module) of every import, function-local ones included; ``from a import b`` also yields a.b,
        since b may be a module."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node.lineno, alias.name
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = self.package.split(".")
                    parent = parent[: len(parent) - node.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                yield node.lineno, base
                for alias in node.names:
                    yield node.lineno, f"{base}.{alias.name}"

    def calls(self, function: str) -> Iterator[ast.Call]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                callee = node.func
                name = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", None)
                if name == function:
                    yield node


@dataclass(frozen=True)
class Rule:
    name: str
    why: str
    check: Callable[[Module], Iterator[tuple[int, str]]]
    #: modules allowed to break the rule, each with its reason
    exceptions: dict[str, str] = field(default_factory=dict)


def _is_under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def only_fhir_imports_sql(module: Module) -> Iterator[tuple[int, str]]:
    if module.within("fhircrm.fhir"):
        return
    seen: set[int] = set()
    for line, imported in module.imports():
        if _is_under(imported, "fhircrm.fhir.sql") and line not in seen:
            seen.add(line)
            yield line, f"imports {imported}"


def stores_name_their_access(module: Module) -> Iterator[tuple[int, str]]:
    if module.within("fhircrm.fhir"):
        return
    for function in ("open_store", "FhirStore"):
        for call in module.calls(function):
            if not any(k.arg == "policy" for k in call.keywords):
                yield call.lineno, f"calls {function} without policy= (a SmartPolicy, or a named ServiceScope)"


def nothing_imports_the_worker(module: Module) -> Iterator[tuple[int, str]]:
    for line, imported in module.imports():
        if _is_under(imported, "fhircrm.worker"):
            yield line, f"imports {imported}"
            return


RULES = [
    Rule(
        "only fhircrm.fhir imports fhircrm.fhir.sql",
        "every read that answers a user goes through the policy-scoped store (FhirStore.select/dated/lock); tables "
        "of other packages take the shared MetaData from fhircrm.fhir.schema",
        only_fhir_imports_sql,
    ),
    Rule(
        "every store names its access",
        "no store is unscoped by default: requests pass their SmartPolicy, fhircrm's own work a ServiceScope",
        stores_name_their_access,
        exceptions={
            "fhircrm.audit.writer": "writes AuditEvents only, on no one's behalf (a store without listeners)",
        },
    ),
    Rule(
        "no module imports fhircrm.worker",
        "the worker is the composition root: it imports every package's installer; packages add their parts to "
        "the Wiring they are given (fhircrm.wiring) and never reach back for it",
        nothing_imports_the_worker,
        exceptions={
            "fhircrm.cli": "the command line: `fhircrm worker` runs it, `fhircrm timers sweep` is given its wiring",
            "fhircrm.app": "the API process runs the embedded worker (SQLite, runs_embedded_worker)",
            "fhircrm.demo.launcher": "`fhircrm demo` drains the seeded backlog with the worker's wiring before serving",
        },
    ),
]


def modules(root: Path = SRC) -> list[Module]:
    found = []
    for path in sorted((root / "fhircrm").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append(Module(name, path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))))
    return found


def violations(rule: Rule, found: list[Module], root: Path = SRC) -> list[str]:
    return [
        f"{module.path.relative_to(root.parent)}:{line}: {what}"
        for module in found
        if module.name not in rule.exceptions
        for line, what in rule.check(module)
    ]


@pytest.fixture(scope="module")
def source() -> list[Module]:
    return modules()


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule(rule: Rule, source: list[Module]) -> None:
    broken = violations(rule, source)
    assert not broken, f"{rule.name} ({rule.why}):\n" + "\n".join(broken)


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_each_exception_is_still_needed(rule: Rule, source: list[Module]) -> None:
    """A named exception whose module now keeps the rule (or is gone) is dropped from the list."""
    by_name = {m.name: m for m in source}
    stale = [name for name in rule.exceptions if name not in by_name or not list(rule.check(by_name[name]))]
    assert not stale, f"{rule.name}: exceptions no longer needed: {stale}"


def test_a_broken_rule_names_the_module_and_line(tmp_path: Path) -> None:
    package = tmp_path / "src" / "fhircrm" / "reports"
    package.mkdir(parents=True)
    (tmp_path / "src" / "fhircrm" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "counts.py").write_text(
        '"""A report."""\n\nimport sqlalchemy\n\n\ndef late():\n    from fhircrm.fhir.sql.tables import resource\n'
    )
    (package / "relative.py").write_text("from ..fhir import sql\nfrom ..fhir.store import FhirStore\n")
    (package / "fine.py").write_text("from fhircrm.fhir.schema import metadata\nfrom fhircrm.fhir import store\n")
    found = modules(tmp_path / "src")
    broken = violations(RULES[0], found, tmp_path / "src")
    assert broken == [
        "src/fhircrm/reports/counts.py:7: imports fhircrm.fhir.sql.tables",
        "src/fhircrm/reports/relative.py:1: imports fhircrm.fhir.sql",
    ]


# --- no import cycles between packages --------------------------------------------------------------------------

#: Package cycles still open, each named with why; the test below fails once one is closed, so it is dropped here.
PACKAGE_CYCLE_EXCEPTIONS: dict[frozenset[str], str] = {}


def package_edges(found: list[Module]) -> dict[str, dict[str, str]]:
    """First-level package -> the first-level packages it imports, each with one ``module:line`` that does.

    Only packages count (``fhircrm.app``, ``fhircrm.deps`` and the other top-level modules wire packages
    together); function-local imports count like the others: deferring an import hides a cycle, not ends it.
    """
    packages = {m.name for m in found if m.path.name == "__init__.py" and m.name.count(".") == 1}
    edges: dict[str, dict[str, str]] = {p: {} for p in packages}
    for module in found:
        source = ".".join(module.name.split(".")[:2])
        if source not in packages:
            continue
        for line, imported in module.imports():
            target = ".".join(imported.split(".")[:2])
            if target in packages and target != source:
                edges[source].setdefault(target, f"{module.name}:{line}")
    return edges


def strongly_connected(edges: dict[str, dict[str, str]]) -> list[list[str]]:
    """The groups of two or more packages (or modules) that import each other, directly or not (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, {})):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def cycle_report(group: list[str], edges: dict[str, dict[str, str]]) -> str:
    inside = set(group)
    lines = [f"  {a} -> {b} ({where})" for a in group for b, where in sorted(edges[a].items()) if b in inside]
    return " <-> ".join(group) + "\n" + "\n".join(lines)


def test_no_import_cycles_between_packages(source: list[Module]) -> None:
    """0 package cycles among src/fhircrm's packages: dependencies go one way (routes -> services -> store, the
    FHIR core below every feature), so a package can be read, tested and changed without its dependants."""
    edges = package_edges(source)
    cycles = [g for g in strongly_connected(edges) if frozenset(g) not in PACKAGE_CYCLE_EXCEPTIONS]
    assert not cycles, "packages import each other:\n" + "\n".join(cycle_report(g, edges) for g in cycles)


def module_edges(found: list[Module]) -> dict[str, dict[str, str]]:
    """Module -> the modules it imports (``from a import b`` counts as a.b when that is a module, else as a),
    each with the line, function-local imports included."""
    names = {m.name for m in found}
    edges: dict[str, dict[str, str]] = {m.name: {} for m in found}
    for module in found:
        for line, imported in module.imports():
            while imported and imported not in names:
                imported = imported.rpartition(".")[0]
            if imported and imported != module.name:
                edges[module.name].setdefault(imported, f"{module.name}:{line}")
    return edges


def test_no_import_cycles_between_modules(source: list[Module]) -> None:
    """Within a package too, modules import one way: a cycle held open by a function-local import is a module
    that should be split or moved, not a deferred import."""
    edges = module_edges(source)
    cycles = strongly_connected(edges)
    assert not cycles, "modules import each other:\n" + "\n".join(cycle_report(g, edges) for g in cycles)


def test_each_package_cycle_exception_is_still_needed(source: list[Module]) -> None:
    open_cycles = {frozenset(g) for g in strongly_connected(package_edges(source))}
    stale = [sorted(c) for c in PACKAGE_CYCLE_EXCEPTIONS if c not in open_cycles]
    assert not stale, f"package cycles closed since, drop them from PACKAGE_CYCLE_EXCEPTIONS: {stale}"


def test_a_package_cycle_is_found_through_a_function_local_import(tmp_path: Path) -> None:
    root = tmp_path / "src" / "fhircrm"
    for package in ("core", "feature", "leaf"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "core" / "store.py").write_text("def later():\n    from fhircrm.feature import hooks\n")
    (root / "feature" / "hooks.py").write_text("from fhircrm.core.store import later\nfrom fhircrm.leaf import x\n")
    edges = package_edges(modules(tmp_path / "src"))
    assert strongly_connected(edges) == [["fhircrm.core", "fhircrm.feature"]]
    assert cycle_report(["fhircrm.core", "fhircrm.feature"], edges) == (
        "fhircrm.core <-> fhircrm.feature\n"
        "  fhircrm.core -> fhircrm.feature (fhircrm.core.store:2)\n"
        "  fhircrm.feature -> fhircrm.core (fhircrm.feature.hooks:1)"
    )
