"""The shared segment rules, with their own messages (which never repeat the name)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from libs.secrets._core.paths import VALID_PATH, path_problem, segment_problem


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("", "must not be empty"),
        ("/etc/passwd", "must be relative"),
        ("a//b", "empty segment"),
        ("a/", "empty segment"),
        ("a/../b", "starting with '.'"),
        (".status.json", "starting with '.'"),
        ("a\\b", "characters other than"),
        ("a\x00b", "characters other than"),
        ("é", "characters other than"),
        ("a" * 256, "longer than 255"),
        ("/".join(["a" * 255] * 5), "longer than 1024"),
        ("\udcff", "UTF-8"),
    ],
)
def test_problems(path: str, problem: str) -> None:
    found = path_problem(path)
    assert found is not None and problem in found
    assert path not in found or not path


def test_valid_paths() -> None:
    for path in ("alpaca/api_key_id", "a.b/c..d", "x/user@host+tag=1-2_3", "a" * 255):
        assert path_problem(path) is None
    assert segment_problem("ok") is None and segment_problem("") == "has an empty segment"


@given(st.text(max_size=40))
def test_fast_path_and_diagnosis_agree(path: str) -> None:
    assert (VALID_PATH.fullmatch(path) is not None) == (path_problem(path) is None)
