"""The grammar of import paths (``"package.module:Qual.Name"``) and registered names."""

from __future__ import annotations

import re

__all__ = ["MAX_PATH_LENGTH", "PATH_FORM", "is_valid_name"]

#: Longest import path (or registered name) a document may hold.
MAX_PATH_LENGTH = 500

#: The rule, as words for error messages.
PATH_FORM = (
    "an import path 'package.module:QualName' whose names do not start with '__' "
    "(the module may be '__main__', the running script)"
)

# ASCII identifiers only, and none starting with "__": that keeps out
# __builtins__, __class__, __init__, __globals__ and name mangling. The one
# exception is the module "__main__", which is never imported (see _refs).
_SEGMENT = r"(?!__)[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = rf"{_SEGMENT}(?:\.{_SEGMENT})*"
_MODULE = rf"(?:__main__|{_DOTTED})"
_PATH = re.compile(rf"{_MODULE}:{_DOTTED}")
_NAME = re.compile(rf"(?:{_MODULE}:)?{_DOTTED}")


def is_valid_name(text: object, *, path_only: bool = False) -> bool:
    """Whether ``text`` is an import path or, unless ``path_only``, a dotted name."""
    pattern = _PATH if path_only else _NAME
    return isinstance(text, str) and len(text) <= MAX_PATH_LENGTH and bool(pattern.fullmatch(text))
