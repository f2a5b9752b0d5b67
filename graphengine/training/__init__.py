"""Models and their training: Model and Sequential, the fit/evaluate/predict loops, optimizers,
losses, metrics and callbacks (public as ge.optimizers, ge.losses, ge.metrics, ge.callbacks)."""
