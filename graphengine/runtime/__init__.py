"""Plans (graph -> flat steps over preallocated buffers), buffer reuse and devices."""
