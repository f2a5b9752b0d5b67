"""Symbolic tensors, nodes, the layer-level graph and its deterministic order."""
