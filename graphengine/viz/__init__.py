"""Looking at models: the summary table, pictures of the forward and backward graphs (.dot,
.svg, .png, .html) and per-layer profiles of a training step."""
