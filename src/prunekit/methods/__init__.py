"""The pruning methods, one folder each (config.py + method.py), and the registry api.py uses."""
