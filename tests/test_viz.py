"""ferrograd.viz: DOT text that parses, escaped labels, big graphs, rendering or a clear error."""

from __future__ import annotations

import html
import re
import shutil
import sys

import pydot
import pytest

import ferrograd
from ferrograd import reference
from ferrograd.viz import GraphvizUnavailable, draw, to_dot

ENGINES = [ferrograd, reference]

# pydot's parser calls pyparsing names that newer pyparsing deprecates.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

try:
    import graphviz  # noqa: F401

    HAVE_GRAPHVIZ = shutil.which("dot") is not None
except ImportError:
    HAVE_GRAPHVIZ = False


def seed(engine):
    x1, x2 = engine.Value(2.0, "x1"), engine.Value(5.0, "x2")
    f = x1.log() + x1 * x2 - x2.sin()
    f.label = "f"
    f.backward()
    return f


def _parse(text: str) -> pydot.Dot:
    graphs = pydot.graph_from_dot_data(text)
    assert graphs is not None and len(graphs) == 1
    return graphs[0]


def _svg_texts(svg: bytes) -> list[str]:
    return [html.unescape(t).strip() for t in re.findall(r"<text[^>]*>(.*?)</text>", svg.decode())]


@pytest.mark.parametrize("engine", ENGINES)
def test_seed_graph_parses_with_one_record_per_node_and_one_oval_per_op(engine):
    graph = _parse(to_dot(seed(engine)))
    nodes = {n.get_name(): n for n in graph.get_nodes() if n.get_name() not in ("node", "edge")}
    records = [n for n in nodes.values() if n.get("shape") == "record"]
    ovals = [n for n in nodes.values() if n.get("shape") == "oval"]
    assert len(records) == 7  # x1, x2, log, *, +, sin, -
    assert sorted(n.get("label").strip('"') for n in ovals) == sorted(["log", "*", "+", "sin", "-"])
    # Each op: one edge into its result, one from each operand.
    assert len(graph.get_edges()) == 5 + (1 + 2 + 2 + 1 + 2)
    labels = " ".join(n.get("label") for n in records)
    assert r"{ x1 | data\ 2.0000 | grad\ 5.5000 }" in labels
    assert r"{ x2 | data\ 5.0000 | grad\ 1.7163 }" in labels
    assert r"{ f | data\ 11.6521 | grad\ 1.0000 }" in labels


@pytest.mark.parametrize("engine", ENGINES)
def test_every_unary_op_of_the_table_is_drawn_by_its_name(engine):
    from conftest import UNARY_OPS

    x = engine.Value(1.5, "x")
    # gelu_tanh has no method of its own: it is gelu(approximate="tanh")
    nodes = [getattr(x, row.method)() for row in UNARY_OPS if row.method]
    nodes.append(x.gelu(approximate="tanh"))
    graph = _parse(to_dot(engine.sum(nodes)))
    ovals = [n.get("label").strip('"') for n in graph.get_nodes() if n.get("shape") == "oval"]
    assert sorted(ovals) == sorted([row.name for row in UNARY_OPS] + ["sum"])


def test_every_edge_joins_declared_nodes_and_operands_feed_their_op():
    f = seed(ferrograd)
    graph = _parse(to_dot(f))
    declared = {n.get_name() for n in graph.get_nodes()}
    edges = [(e.get_source(), e.get_destination()) for e in graph.get_edges()]
    assert all(a in declared and b in declared for a, b in edges)
    # The root is the last node, made by "-" from the "+" node (n4) and the sin node (n5).
    assert ("n6_op", "n6") in edges and ("n4", "n6_op") in edges and ("n5", "n6_op") in edges


def test_repeated_operand_gives_two_edges():
    x = ferrograd.Value(3.0, "x")
    edges = [(e.get_source(), e.get_destination()) for e in _parse(to_dot(x * x)).get_edges()]
    assert edges.count(("n0", "n1_op")) == 2


LABELS = ['quote " here', "braces {a|b} <port>", "back\\slash \\n not a newline", "two\nlines"]


@pytest.mark.parametrize("label", LABELS)
def test_labels_are_escaped(label):
    x = ferrograd.Value(1.0, label)
    graph = _parse(to_dot(x.tanh()))
    assert len([n for n in graph.get_nodes() if n.get("shape") == "record"]) == 2
    if HAVE_GRAPHVIZ:
        import graphviz

        texts = _svg_texts(graphviz.Source(to_dot(x.tanh())).pipe(format="svg"))
        assert texts[: len(label.split("\n"))] == label.split("\n")


@pytest.mark.parametrize("engine", ENGINES)
def test_ten_thousand_node_chain_without_recursion(engine):
    assert sys.getrecursionlimit() < 10_000
    x = engine.Value(0.5, "x")
    y = x
    for _ in range(5_000):
        y = (y * 0.999).tanh()  # a constant leaf, "*" and "tanh" per step: 15,001 nodes
    y.backward()
    text = to_dot(y)
    records = re.findall(r"^  n\d+ \[shape=record", text, flags=re.MULTILINE)
    assert len(records) == 15_001
    assert text.count("->") == 5_000 * (3 + 2)  # "*": result + 2 operands; "tanh": 1 + 1
    assert text.rstrip().endswith("}")


def test_bad_arguments():
    with pytest.raises(TypeError, match="needs a Value, got float"):
        to_dot(1.0)
    with pytest.raises(ValueError, match="rankdir"):
        to_dot(ferrograd.Value(1.0), rankdir="up")
    with pytest.raises(ValueError, match=r"\.svg, \.png or \.pdf"):
        draw(ferrograd.Value(1.0), "graph.jpg")


MAGIC = {"svg": b"<svg", "png": b"\x89PNG", "pdf": b"%PDF"}


@pytest.mark.parametrize("fmt", sorted(MAGIC))
def test_draw_renders_or_says_what_to_install(fmt, tmp_path):
    target = tmp_path / f"graph.{fmt}"
    if not HAVE_GRAPHVIZ:
        with pytest.raises(GraphvizUnavailable, match="pip install"):
            draw(seed(ferrograd), target)
        return
    assert draw(seed(ferrograd), target) == target
    data = target.read_bytes()
    assert MAGIC[fmt] in data[:1000]
    if fmt == "svg":
        texts = _svg_texts(data)
        assert "x1" in texts and "grad 5.5000" in texts and "sin" in texts


def test_missing_python_package_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz now fails
    with pytest.raises(GraphvizUnavailable, match=r"pip install \"ferrograd\[viz\]\"") as info:
        draw(seed(ferrograd), tmp_path / "g.svg")
    assert isinstance(info.value, ImportError)
    assert not (tmp_path / "g.svg").exists()


def test_missing_dot_program_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
    # Without the Python package, that is the first thing missing.
    missing = "dot program, which is not on PATH" if HAVE_GRAPHVIZ else "Python package"
    with pytest.raises(GraphvizUnavailable, match=missing):
        draw(seed(ferrograd), tmp_path / "g.png")
