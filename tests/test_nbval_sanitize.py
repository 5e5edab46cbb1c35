"""The sanitising patterns of nbval (``tests/nbval_sanitize.cfg``) mask only what they say.

nbval applies every ``regex``/``replace`` pair of the file to both the stored and the fresh
output before comparing them; these tests apply them the same way.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

CFG = Path(__file__).with_name("nbval_sanitize.cfg")


def _patterns() -> list[tuple[str, str]]:
    parser = configparser.ConfigParser()
    parser.read(CFG, encoding="utf-8")
    return [(parser[s]["regex"], parser[s]["replace"]) for s in parser.sections()]


def sanitize(text: str) -> str:
    for regex, replace in _patterns():
        text = re.sub(regex, replace, text, flags=re.MULTILINE)
    return text


@pytest.mark.parametrize("stored, fresh", [
    ("3.732050807568877", "3.732050807568878"),          # last-digit CPU noise (chapter 4)
    ("0.5149979399619253", "0.5149979399618809"),        # 1e-13 (chapter 6)
    ("6.309811162642595", "6.3098111626425935"),
    ("1.2923701610207308e-05", "1.2923701610207319e-05"),
    ("wall time: 8.1 s", "wall time: 12.0 s"),
])
def test_noise_is_masked(stored, fresh):
    assert sanitize(stored) == sanitize(fresh)


@pytest.mark.parametrize("stored, fresh", [
    ("3.732050807568877", "3.732050808568877"),          # differs at the 9th decimal
    ("0.5149979399619253", "0.5149979398619253"),        # at the 10th
    ("0.9225", "0.9226"),                                # a printed 4-digit value
    ("1.2923701610207308e-05", "1.2923701610207308e-06"),  # the exponent
    ("r* = 3", "r* = 4"),
])
def test_real_differences_still_differ(stored, fresh):
    assert sanitize(stored) != sanitize(fresh)
