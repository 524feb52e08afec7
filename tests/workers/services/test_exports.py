"""The services' public surface changes only on purpose."""

from types import ModuleType

import workers.services as services


def test_services_export_only_what_they_mean_to() -> None:
    names = [n for n, v in vars(services).items() if not n.startswith("_") and not isinstance(v, ModuleType)]
    assert sorted(services.__all__) == sorted(names)
    assert services.__all__ == sorted(services.__all__, key=lambda n: (n[0].islower(), n))
