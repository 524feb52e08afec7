"""The runtime's public surface changes only on purpose."""

from types import ModuleType

import workers.runtime as runtime


def test_runtime_exports_only_what_it_means_to() -> None:
    names = [n for n, v in vars(runtime).items() if not n.startswith("_") and not isinstance(v, ModuleType)]
    assert sorted(runtime.__all__) == sorted(names)
    assert runtime.__all__ == sorted(runtime.__all__, key=lambda n: (n[0].islower(), n))
