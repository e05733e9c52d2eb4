"""The package's shape: only models/ tells the built-in model from a Hugging Face one, and
no module imports one that imports it back (function-local imports counted)."""

import ast
import re
from pathlib import Path

import priorlab

SRC = Path(priorlab.__file__).parent
BACKEND_ALLOWED: set[str] = set()
CIRCLES_ALLOWED = [
    {"priorlab.algos", "priorlab.algos.parts", "priorlab.algos.presets"},  # presets' registries
]
COMPARISON = re.compile(r"""backend\s*(==|!=)|(==|!=)\s*\S*backend\b|backend\s+(not\s+)?in\b""")


def modules() -> dict[str, Path]:
    out = {}
    for file in SRC.rglob("*.py"):
        parts = list(file.relative_to(SRC.parent).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = file
    return out


def test_no_backend_comparison_outside_models():
    found = [
        f"{file.relative_to(SRC)}:{i}: {line.strip()}"
        for file in SRC.rglob("*.py")
        if file.relative_to(SRC).parts[0] != "models"
        and str(file.relative_to(SRC)) not in BACKEND_ALLOWED
        for i, line in enumerate(file.read_text().splitlines(), 1)
        if COMPARISON.search(line)
    ]
    assert not found, "ask the policy (models.PolicyLike), not its backend:\n" + "\n".join(found)


def imports(file: Path, known: set[str]) -> set[str]:
    """The priorlab modules `file` imports anywhere in it (a name from a package counts as
    the submodule of that name when there is one, else as the package)."""
    out = set()
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names}
            out |= (subs & known) or {node.module}
    return out & known


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, found = {}, {}, [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while not comp or v not in comp:
                comp.add(stack.pop())
            if len(comp) > 1:
                found.append(comp)

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_counting_function_local_imports():
    mods = modules()
    graph = {m: imports(f, set(mods)) - {m} for m, f in mods.items()}
    found = [c for c in circles(graph) if c not in CIRCLES_ALLOWED]
    assert not found, f"modules that import each other: {found}"


def test_the_checks_catch_what_they_look_for():
    assert COMPARISON.search('if policy.backend == "tiny":')
    assert COMPARISON.search('x = "hf" != self.policy.backend')
    assert not COMPARISON.search("backend: str  # a comment on the backend")
    assert circles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [{"a", "b"}]
