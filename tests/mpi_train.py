"""Trains a small model on the digits and saves rank 0's final weights; run by
tests/test_distributed.py both as one process and under `mpiexec -n 2`.

usage: python tests/mpi_train.py OUT.npz OPTIMIZER [--distributed] [--fail-rank R] [--hang-rank R]
"""

import argparse
import time

import numpy as np

import graphengine as ge


def build() -> ge.Model:
    layers = ge.layers
    if hasattr(layers, "Conv2D"):
        return ge.Sequential(
            [
                ge.Input((8, 8, 1)),
                layers.Conv2D(4, 3, activation="relu"),
                layers.MaxPooling2D(2),
                layers.Flatten(),
                layers.Dense(10, activation="softmax"),
            ]
        )
    return ge.Sequential(
        [
            ge.Input((8, 8, 1)),
            layers.Flatten(),
            layers.Dense(16, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("optimizer", choices=["sgd", "adam"])
    parser.add_argument("--distributed", action="store_true")
    parser.add_argument("--fail-rank", type=int, default=-1)
    parser.add_argument("--hang-rank", type=int, default=-1)
    args = parser.parse_args()
    if args.distributed:
        ge.distributed.initialize(timeout=5.0)
    rank = ge.distributed.rank() if args.distributed else 0
    ge.utils.set_random_seed(1234)  # the same initial weights (rank 0's are broadcast anyway)
    (x, y), _ = ge.datasets.load_digits()
    x, y = x[:100, :, :, None], y[:100]
    model = build()
    optimizer = (
        ge.optimizers.SGD(0.05, momentum=0.9)
        if args.optimizer == "sgd"
        else ge.optimizers.Adam(0.01)
    )
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        distributed=args.distributed,
    )
    if rank == args.fail_rank:
        raise RuntimeError(f"rank {rank} fails on purpose")
    if rank == args.hang_rank:
        time.sleep(60)
    # 100 samples, global batch 16: 7 steps an epoch, the last one of 4 samples
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=True, verbose=0)
    if rank == 0:
        np.savez(
            args.out,
            *model.get_weights(),
            loss=np.array(history.history["loss"]),
            accuracy=np.array(history.history["accuracy"]),
        )


if __name__ == "__main__":
    main()
