"""SKILL.md front matter: the built-in YAML reader agrees with PyYAML on what skills use."""

from __future__ import annotations

import pytest
import yaml

from kt_skills import SkillFormatError, parse_yaml_subset, split_front_matter

DOCUMENTS = [
    "name: deploy\ndescription: Ship the current branch to staging.\n",
    "name: \"quoted: colon\"\ndescription: 'it''s fine'\nlicense: MIT  # a comment\n",
    'paths: ["*.py", src/**]\nallowed-tools: [bash, read]\ndisable-model-invocation: true\n',
    "paths:\n  - '*.toml'\n  - docs/**\nversion: 1.5\ncount: 3\nnothing: null\nflag: false\n",
    "description: >\n  Folded line one\n  line two\n\n  next paragraph\nname: x\n",
    "description: |\n  keep\n    this indent\n  and lines\nname: y\n",
    "description: >-\n  no trailing\n  newline\n",
    "metadata:\n  author: Ada\n  tags: [a, b]\nitems:\n- one\n- two\n",
    "# just a comment\nname: z\n",
    "entries:\n  - name: a\n    weight: 1\n  - name: b\n",
    'escaped: "tab\\there \\"q\\" ü"\n',
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_the_subset_reader_matches_pyyaml(text):
    assert parse_yaml_subset(text) == yaml.safe_load(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("just words", "line 1: expected 'key: value'"),
        ("a: 1\n    b: 2", "line 2: unexpected indentation"),
        ("a: [x, y", r"only \[a, b\] inline lists"),
        ("a: {x: 1}", r"only \[a, b\] inline lists"),
        ('a: "open', "unterminated quoted string"),
    ],
)
def test_the_subset_reader_names_the_line_it_cannot_read(text, message):
    with pytest.raises(SkillFormatError, match=message):
        parse_yaml_subset(text)


def test_split_front_matter():
    meta, body = split_front_matter("---\nname: a\ndescription: b\n---\n\nDo this.\n")
    assert meta == {"name": "a", "description": "b"}
    assert body == "Do this.\n"
    assert split_front_matter("No front matter.\n---\n") == ({}, "No front matter.\n---\n")
    assert split_front_matter("---\n---\nbody") == ({}, "body")
    with pytest.raises(SkillFormatError, match="never closed"):
        split_front_matter("---\nname: a\n")
    with pytest.raises(SkillFormatError, match="must be a mapping"):
        split_front_matter("---\n- a\n---\nbody")


def test_without_pyyaml_the_subset_reader_is_used(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_yaml(name, *args, **kwargs):
        if name == "yaml":
            raise ImportError("no yaml here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_yaml)
    meta, _ = split_front_matter('---\nname: a\npaths: ["*.py"]\n---\nbody')
    assert meta == {"name": "a", "paths": ["*.py"]}
