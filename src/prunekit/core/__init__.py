"""Model-agnostic machinery. Nothing here imports prunekit.methods."""
