"""The engine's pure graph logic (kt_terrarium.topology): plain data in, plain data out, no trio."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from kt_terrarium import topology

NAMES = st.sampled_from(list("abcdefgh"))


def test_the_module_imports_without_trio():
    code = (
        "import sys, kt_terrarium.topology\n"
        "assert 'trio' not in sys.modules, sorted(m for m in sys.modules if 'trio' in m)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_links_are_channel_members_wire_ends_and_parent_links():
    found = topology.links(
        channels={"chat": {"b", "a"}, "empty": set()},
        wires={"a": ["c"], "d": []},
        parents={"e": "a", "f": None},
    )
    assert found == [("a", "b"), (), ("a", "c"), ("e", "a")]


def test_components_follow_links_and_ignore_outsiders():
    parts = topology.components(["a", "b", "c", "d"], [("a", "b"), ("c", "zz"), ("b", "a")])
    assert parts == [{"a", "b"}, {"c"}, {"d"}]
    assert topology.components([], [("a", "b")]) == []


@given(
    nodes=st.sets(NAMES, min_size=1),
    links=st.lists(st.lists(NAMES, max_size=3), max_size=8),
)
def test_components_partition_the_nodes_and_keep_links_whole(nodes, links):
    parts = topology.components(sorted(nodes), links)
    assert set().union(*parts) == nodes
    assert sum(len(p) for p in parts) == len(nodes)  # disjoint
    for link in links:
        inside = {n for n in link if n in nodes}
        assert sum(1 for p in parts if p & inside) <= 1  # a link never spans two parts


def test_the_part_with_a_privileged_creature_keeps_the_graph():
    plan = topology.plan_split([{"w1", "w2", "w3"}, {"boss"}], privileged={"boss"})
    assert plan.parts == (frozenset({"boss"}), frozenset({"w1", "w2", "w3"}))


def test_otherwise_the_largest_then_the_alphabetically_first_part_keeps_it():
    plan = topology.plan_split([{"x"}, {"c", "d"}, {"a", "z"}])
    assert plan.parts == (frozenset({"a", "z"}), frozenset({"c", "d"}), frozenset({"x"}))


def test_channels_go_with_their_members_and_unused_ones_stay():
    plan = topology.plan_split(
        [{"a", "b"}, {"c"}],
        channels={"ab": {"a", "b"}, "solo": {"c"}, "nobody": set(), "gone": {"zz"}},
    )
    assert plan.parts[0] == frozenset({"a", "b"})
    assert plan.channels == (("ab", "gone", "nobody"), ("solo",))


def test_a_channel_clash_names_the_shared_channels():
    assert topology.channel_clash({"chat": 1, "b": 2}, ["chat", "x"]) == ["chat"]
    assert topology.channel_clash([], ["x"]) == []


def test_a_wire_back_to_the_source_closes_a_loop():
    edges = {"a": ["b"], "b": ["c"]}
    assert topology.find_wiring_loop(edges, "c", "a") == ["c", "a", "b", "c"]
    assert topology.find_wiring_loop(edges, "a", "c") is None
    assert topology.find_wiring_loop({}, "a", "a") == ["a", "a"]


def test_the_loop_found_is_a_shortest_one():
    edges = {"b": ["x", "a"], "x": ["y"], "y": ["a"]}
    assert topology.find_wiring_loop(edges, "a", "b") == ["a", "b", "a"]


@given(edges=st.dictionaries(NAMES, st.lists(NAMES, max_size=3), max_size=8), a=NAMES, b=NAMES)
def test_a_found_loop_is_a_real_path_of_wires(edges, a, b):
    loop = topology.find_wiring_loop(edges, a, b)
    if loop is None:
        return
    assert loop[0] == loop[-1] == a and loop[1] == b
    for start, end in zip(loop[1:-1], loop[2:], strict=True):
        assert end in edges.get(start, ())
