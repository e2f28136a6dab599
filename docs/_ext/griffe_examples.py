"""A griffe extension for the API pages: read eqcnn's ``Example:`` docstring sections as examples.

eqcnn's docstrings title their doctests ``Example:`` (singular); griffe's Google
parser knows ``Examples:``, and would otherwise render the ``>>>`` lines as
Markdown text. Loaded by mkdocs.yml (mkdocstrings ``extensions`` option).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` section headers to ``Examples:`` in every docstring."""

    def on_object(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
