"""YAML documents read quickly: libyaml parses, and plain Python builds the data.

PyYAML's SafeLoader spends most of a large file's time in its Python
constructor, one method call per node. A file of 10,000 subscriptions took
~1.5 s with the pure-Python loader and still ~0.7 s with libyaml's parser
(``CSafeLoader``); here libyaml composes the node tree and a small function
builds dicts, lists and strings from it, handing every other scalar (numbers,
booleans, null, dates) to PyYAML's own constructor, so the result is exactly
``yaml.safe_load``'s (YAML 1.1: ``no`` is False). Anything unusual (merge keys
``<<``, explicit tags, unhashable keys) falls back to ``yaml.safe_load``:

    load_yaml("a: {any: [x], paused: no}")  ->  {"a": {"any": ["x"], "paused": False}}
"""

import yaml

__all__ = ["load_yaml"]

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


class _Unusual(Exception):
    """A node the quick builder leaves to PyYAML."""


def load_yaml(text):
    """The data of one YAML document (``text`` a str or a file), as ``yaml.safe_load`` gives it."""
    if not isinstance(text, str):
        text = text.read()
    node = yaml.compose(text, Loader=_LOADER)  # YAMLError for a bad document, as safe_load
    if node is None:
        return None
    try:
        return _build(node, {}, yaml.SafeLoader(""))
    except _Unusual:
        return yaml.load(text, Loader=_LOADER)


def _build(node, built, constructor):
    known = built.get(id(node))
    if known is not None:  # an alias of a node built already
        return known
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _STR:
            return node.value
        return constructor.construct_object(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ:
            raise _Unusual
        result = built[id(node)] = []
        result.extend(_build(item, built, constructor) for item in node.value)
        return result
    if node.tag != _MAP:
        raise _Unusual
    result = built[id(node)] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            raise _Unusual
        key = _build(key_node, built, constructor)
        try:
            result[key] = _build(value_node, built, constructor)
        except TypeError:  # an unhashable key: PyYAML says so in its own words
            raise _Unusual from None
    return result
