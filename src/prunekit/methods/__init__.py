"""The pruning methods, one folder each (config.py + method.py + a registration in its
__init__.py), and the registry (registry.py) that pk.prune, recipes and the run pipeline read.
A method registers when its folder is imported: ``prunekit/__init__.py`` imports every
method's config for ``pk.<Name>Config``, which is the one line a new method adds outside its
folder (``__all__`` there lists every registered config)."""
