"""Model families: building models by name, and (later) per-family adapters."""
