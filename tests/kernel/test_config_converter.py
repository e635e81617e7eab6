"""The config converter is built once per process, and structures only the tables a config has."""

from __future__ import annotations

import cattrs.gen
import pytest

from kt.config import load_creature_config, schema, validate
from kt.errors import ConfigValidationError


@pytest.fixture
def generated(monkeypatch) -> list[type]:
    """The classes the converter generates a structuring function for, in order."""
    classes: list[type] = []
    make = cattrs.gen.make_dict_structure_fn

    def counting(cl, converter, **kwargs):
        classes.append(cl)
        return make(cl, converter, **kwargs)

    monkeypatch.setattr(cattrs.gen, "make_dict_structure_fn", counting)
    validate._converter.cache_clear()  # the next converter uses the counting factory
    yield classes
    validate._converter.cache_clear()  # later tests get one without it


def test_a_config_generates_only_the_tables_it_has(generated):
    load_creature_config({"name": "small"})
    assert generated == [schema.CreatureConfig]
    load_creature_config({"name": "compacting", "compact": {"threshold": 0.5}})
    assert generated == [schema.CreatureConfig, schema.CompactConfig]


def test_the_converter_is_reused_across_configs(generated):
    first = load_creature_config({"name": "a", "compact": {"threshold": 0.5}})
    count = len(generated)
    second = load_creature_config({"name": "b", "compact": {"threshold": 0.7}})
    assert len(generated) == count  # nothing generated again
    assert (first.compact.threshold, second.compact.threshold) == (0.5, 0.7)
    assert validate._converter() is validate._converter()


def test_a_table_of_the_wrong_shape_is_still_reported_with_its_path():
    with pytest.raises(ConfigValidationError, match=r"compact.*expected a table"):
        load_creature_config({"name": "bad", "compact": ["not", "a", "table"]})
