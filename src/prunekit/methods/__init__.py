"""The pruning methods, one folder each (config.py + method.py + a registration in __init__.py),
and the registry (registry.py) that pk.prune, recipes and the run pipeline read. Importing this
package registers every method: a new method adds its import here."""

from prunekit.methods import adaptive, basis, channel, features, layers, sfp, sglp

__all__ = ["adaptive", "basis", "channel", "features", "layers", "sfp", "sglp"]
