"""The import names of ganaudit's packages: ``ganaudit.gan_models``, ``ganaudit.evaluation``,
``ganaudit.reader_study``, ``ganaudit.reports``.

The repository keeps them as top-level folders (``gan_models/``, ``evaluation/``, …; see
ARCHITECTURE.md). Installed under bare names they collided with other distributions
(``evaluation`` and ``reports`` exist on the package index, and pip lets one overwrite the
other) and a user's own ``evaluation/`` or ``reports/`` folder on the path shadowed ours.

- A wheel maps the folders into the ``ganaudit`` package (``[tool.setuptools.package-dir]``
  in pyproject.toml); nothing here is needed then.
- An editable install gets the same mapping from setuptools' own finder.
- A source checkout used through ``PYTHONPATH`` (no install) gets it from
  ``install_checkout_finder``: a meta-path finder that knows exactly these four names, so
  ``ganaudit.tests`` or ``ganaudit.bench`` do not resolve and nothing else of the repository
  root joins the ``ganaudit`` package.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

#: The packages that live in top-level folders of the repository and import as ``ganaudit.NAME``.
PACKAGES = ("gan_models", "evaluation", "reader_study", "reports")


class _CheckoutFinder(importlib.abc.MetaPathFinder):
    """Finds ``ganaudit.NAME`` in the repository's ``NAME/`` folder for the four names only;
    their sub-modules then resolve through the package's ``__path__`` as usual."""

    def __init__(self, folders: dict[str, Path]):
        self.folders = folders

    def find_spec(self, fullname, path=None, target=None):
        folder = self.folders.get(fullname)
        if folder is None:
            return None
        return importlib.util.spec_from_file_location(
            fullname, folder / "__init__.py", submodule_search_locations=[str(folder)])


def install_checkout_finder(package: str, package_dir: Path) -> bool:
    """Map ``package.NAME`` to ``package_dir/../NAME`` when ``package_dir`` is in a source
    checkout (the four folders beside it, none inside it); return whether it was installed."""
    if any(isinstance(f, _CheckoutFinder) for f in sys.meta_path):
        return True
    if (package_dir / PACKAGES[0]).is_dir():  # a wheel: the packages are inside ganaudit/
        return False
    root = package_dir.parent
    folders = {f"{package}.{name}": root / name for name in PACKAGES}
    if not all((folder / "__init__.py").is_file() for folder in folders.values()):
        return False
    sys.meta_path.append(_CheckoutFinder(folders))
    return True
