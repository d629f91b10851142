"""What a channel or a layer is worth: importance criteria, gradients, per-batch representations
of layer units."""
