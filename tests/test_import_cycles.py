"""No import cycles among lrperf's modules: each module can be read, and changed, after
the ones it imports.  Imports inside functions count too: a lazy import only
hides a cycle from the interpreter, not from the reader."""
import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "lrperf"

# Cycles allowed to remain: none.  An entry here would have to say why.
REMAINING = set()


def _modules():
    """{module name: path} of every module of the package."""
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name, path, modules):
    """The package's modules that module ``name`` imports, anywhere in it."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[:len(here.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    out.add(sub)            # a submodule: ``from . import atomic``
                elif base in modules:
                    out.add(base)           # a name defined in that module
    out.discard(name)
    return out


def import_graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle_and_only_it():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]


def test_the_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    # cli's subcommands import the study lazily, inside run().
    assert "lrperf.study" in graph["lrperf.cli.study"]
    assert "lrperf.atomic" in graph["lrperf.study.run"]
    assert "lrperf.results_format" in graph["lrperf.study.store"]


def test_no_import_cycles_among_the_modules():
    found = [sorted(c) for c in cycles(import_graph()) if c not in REMAINING]
    assert not found, f"import cycles: {found}"


def test_the_study_imports_nothing_from_the_report():
    graph = import_graph()
    study = {n: sorted(d for d in deps if d.startswith("lrperf.report"))
             for n, deps in graph.items() if n.startswith("lrperf.study")}
    assert study and not any(study.values()), study
