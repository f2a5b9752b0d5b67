"""Steps per second of data-parallel training at 1 and N ranks (same global batch).

Run: python benchmarks/distributed_scaling.py            (1 process)
     mpirun -n 2 python benchmarks/distributed_scaling.py  (2 ranks)
Each rank should get its share of the cores: e.g. OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 on a
2-core machine with 2 ranks.
"""

import time

import numpy as np

import graphengine as ge

ge.distributed.initialize()
ge.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.standard_normal((4096, 784)).astype("float32")
y = rng.integers(0, 10, 4096)
model = ge.Sequential(
    [
        ge.Input((784,)),
        ge.layers.Dense(512, activation="relu"),
        ge.layers.Dense(512, activation="relu"),
        ge.layers.Dense(10),
    ]
)
model.compile(
    optimizer="adam",
    distributed=ge.distributed.size() > 1,
    loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True),
)
model.fit(x[:512], y[:512], batch_size=256, epochs=1, verbose=0)  # compile the plans
start = time.perf_counter()
model.fit(x, y, batch_size=256, epochs=2, verbose=0, shuffle=False)
steps = 2 * len(x) // 256
rate = steps / (time.perf_counter() - start)
if ge.distributed.rank() == 0:
    print(
        f"{ge.distributed.size()} rank(s): {rate:.1f} steps/s (global batch 256, MLP "
        f"784-512-512-10, Adam)"
    )
