"""What a model costs and what it must keep: metrics, the Target, kept fractions, the search
that meets a target."""
