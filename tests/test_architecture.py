"""The engine's public surface changes only on purpose."""

from __future__ import annotations

from types import ModuleType

import engine


def test_engine_exports_only_what_it_means_to() -> None:
    names = [n for n, v in vars(engine).items() if not n.startswith("_") and not isinstance(v, ModuleType)]
    assert sorted(engine.__all__) == sorted(names)
    assert len(engine.__all__) == len(set(engine.__all__))
