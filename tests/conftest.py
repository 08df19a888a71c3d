"""Settings for every test: the Python processes the tests start cache their bytecode.

Many tests run ``python -m routilux`` or a script in a subprocess, hundreds
of them in a run. Where ``PYTHONDONTWRITEBYTECODE`` is set, each one would
compile routilux from source again (about 0.1 s each). The subprocesses
write their bytecode under ``PYTHONPYCACHEPREFIX``: the one the run was given
(``make test`` gives ``build/pycache``), else the session's temporary
directory; never into the source tree.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _subprocesses_cache_bytecode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        if not sys.pycache_prefix:
            patch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path_factory.getbasetemp() / "pycache"))
        patch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
        yield


@pytest.fixture(autouse=True)
def _sys_path_restored() -> Iterator[None]:
    """Give each test the ``sys.path`` it found.

    Loading a flow file in-process puts its directory first (as ``routilux
    run`` does); that must not reach the next test of the worker
    (``examples/pipeline.py`` would hide ``tests/crash/pipeline.py``).
    """
    saved = list(sys.path)
    yield
    sys.path[:] = saved
