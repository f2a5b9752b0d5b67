"""Saving and loading: model configs as JSON, weights as plain .npy arrays in one zip file."""
