"""load_yaml gives what yaml.safe_load gives, faster on large files."""

import pytest
import yaml

from tests.conftest import SEEDS
from transforms.yaml_loading import load_yaml


@pytest.mark.parametrize("document", [
    "a: no\nb: 1.5\nc: [x, 2020-01-01, null, ~, 0x10, '3', yes]",
    "x: &a [1, 2]\ny: *a",
    "base: &b {p: 1}\nd:\n  <<: *b\n  q: 2",          # a merge key: left to PyYAML
    "- !!str 12\n- !!int '3'",                          # explicit tags
    "k: 'no'\nempty:\nlist: []",
    "",
])
def test_the_same_data_as_safe_load(document):
    assert load_yaml(document) == yaml.safe_load(document)


@pytest.mark.parametrize("name", ["topics.yaml", "subscriptions.yaml", "aliases.yaml", "places.yaml"])
def test_the_shipped_files_read_the_same(name):
    with open(SEEDS / name, encoding="utf-8") as handle:
        assert load_yaml(handle) == yaml.safe_load((SEEDS / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("document", ["? [1, 2]\n: v", "a: [1, 2\n", "a: b: c"])
def test_bad_documents_raise_yaml_errors(document):
    with pytest.raises(yaml.YAMLError):
        load_yaml(document)
