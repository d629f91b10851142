"""What can be pruned: channel groups (the dependency analysis and its torch-pruning patches),
attention heads, layers that run only in training, layer units."""
