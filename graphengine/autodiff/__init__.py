"""The backward pass and one gradient rule per primitive."""
