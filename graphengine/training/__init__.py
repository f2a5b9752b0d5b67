"""Models and what training them needs: initializers, regularizers (and, later, optimizers,
losses, metrics, callbacks)."""
