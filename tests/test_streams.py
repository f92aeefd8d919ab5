"""Every random stream is named once (reference.base.streams), and no two named streams coincide."""

import ast
from pathlib import Path

import numpy as np
import pytest

from bp_parity.reference.base import streams

ROOT = Path(__file__).resolve().parent.parent


def test_every_stream_has_its_own_number():
    numbers = [number for number, _ in streams.STREAMS.values()]
    assert len(set(numbers)) == len(numbers)


@pytest.mark.parametrize("seed", [0, 1, 7, 2**31 - 1])
def test_no_two_streams_draw_the_same_numbers(seed):
    first = {name: streams.rng(seed, name).random(4).tobytes() for name in streams.STREAMS}
    assert len(set(first.values())) == len(first)
    # and none of them is the bare seed's stream (which equals [seed, 0]: the trap the module names)
    assert np.random.default_rng(seed).random(4).tobytes() == streams.rng(seed, "weights").random(4).tobytes()
    others = {v for k, v in first.items() if k != "weights"}
    assert np.random.default_rng(seed).random(4).tobytes() not in others


def test_an_unknown_stream_name_is_refused_with_the_known_ones():
    with pytest.raises(KeyError, match="known: weights"):
        streams.rng(0, "wieghts")


def test_the_harness_draws_only_from_named_streams():
    """No module of reference/ builds a generator of its own: a new use must be named in streams.py."""
    offenders = []
    for path in sorted((ROOT / "reference").rglob("*.py")):
        if path.name == "streams.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("default_rng", "RandomState", "seed"):
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, f"draw from bp_parity.reference.base.streams.rng(seed, name) instead: {offenders}"
