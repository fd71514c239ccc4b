"""The shape of the code: no module of veil imports itself back, not even through an import inside
a function (issue #11). Imports under ``if TYPE_CHECKING:`` never run, so they do not count.

The package layers themselves are an import-linter contract in pyproject.toml (``make lint``).
"""

from __future__ import annotations

from collections.abc import Mapping

import grimp


def _cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_sees_a_cycle_and_nothing_else() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_veil() -> None:
    imports = grimp.build_graph("veil", exclude_type_checking_imports=True)
    graph = {module: set(imports.find_modules_directly_imported_by(module)) for module in imports.modules}
    assert len(graph) > 100  # the whole package was read, not an empty graph
    cycles = _cycles(graph)
    details = [
        f"{importer} -> {imported} (line {', '.join(str(d['line_number']) for d in lines)})"
        for cycle in cycles
        for importer in cycle
        for imported in sorted(graph[importer] & set(cycle))
        if (lines := imports.get_import_details(importer=importer, imported=imported))
    ]
    assert cycles == [], "import cycles in veil:\n" + "\n".join(details)
