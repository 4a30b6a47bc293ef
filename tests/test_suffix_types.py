"""SuffixTypes answers as mimetypes.guess_type() does, for every name, though
it asks once per suffix where the suffix alone decides."""

from __future__ import annotations

import mimetypes

from hypothesis import given
from hypothesis import strategies as st

from collectfast.header_parameters import SuffixTypes

TRICKY = [
    "css/app.css",
    "css/APP.CSS",
    "app.3f9a2c1b.css",
    "bundle.js.gz",
    "bundle.JS.GZ",
    "a.tar.gz",
    "a.tgz",
    "a.TGZ",
    "a.svgz",
    "x.br",
    "x.css.br",
    "README",
    ".hidden",
    "dir.d/file",
    "dir/.css",
    "data:text/html,x.css",
    "http:x.css",
    "font.woff2",
    "weird.",
    "a.b.c.unknownsuffix",
]


def test_tricky_names_in_every_order():
    for names in (TRICKY, TRICKY[::-1]):
        types = SuffixTypes()
        for name in names:
            assert types(name) == mimetypes.guess_type(name), name


_parts = st.sampled_from(
    ["a", "A", ".", "css", "CSS", "gz", "tgz", "tar", "js", "br", "/", ":", "x"]
)


@given(st.lists(st.lists(_parts, max_size=6).map("".join), max_size=30))
def test_any_names(names):
    types = SuffixTypes()
    for name in names:
        assert types(name) == mimetypes.guess_type(name), name


def test_a_replaced_guess_type_is_asked_for_every_name(monkeypatch):
    asked: list[str] = []

    def guess_type(url: str, strict: bool = True) -> tuple[str, None]:
        asked.append(url)
        return "text/x-project", None

    monkeypatch.setattr(mimetypes, "guess_type", guess_type)
    types = SuffixTypes()
    assert types("a.css") == types("b.css") == ("text/x-project", None)
    assert asked == ["a.css", "b.css"]
