"""Exceptions raised by prunekit. Every message names the problem and the fix."""

from __future__ import annotations


class PrunekitError(Exception):
    """Base class of every error prunekit raises on purpose."""


class ConfigError(PrunekitError, ValueError):
    """A configuration field has a value prunekit cannot use."""


class UnknownNameError(PrunekitError, ValueError):
    """A model, dataset or option name is not known; the message lists the known ones."""

    def __init__(self, kind: str, name: str, available: list[str], hint: str = "") -> None:
        self.kind, self.name, self.available = kind, name, sorted(available)
        listing = ", ".join(self.available)
        super().__init__(f"unknown {kind} {name!r}; available: {listing}{hint}")


class MissingDependencyError(PrunekitError, ImportError):
    """An optional package is not installed; the message gives the pip command."""

    def __init__(self, package: str, purpose: str) -> None:
        self.package = package
        super().__init__(
            f"{purpose} needs the package {package!r}, which is not installed; "
            f"fix: pip install {package}"
        )


class InputError(PrunekitError, ValueError):
    """Example inputs or data do not fit the model."""


class OfflineError(PrunekitError, RuntimeError):
    """A resource needs the network and the network cannot be reached."""


def require(module: str, package: str, purpose: str) -> object:
    """Import ``module`` or raise MissingDependencyError naming ``package``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(package, purpose) from exc
