"""Saving and loading: safetensors for tensors, JSON for structure, never pickle."""
