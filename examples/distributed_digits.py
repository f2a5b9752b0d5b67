"""Data-parallel training of the digits MLP on MPI ranks.

Run on 2 processes of this machine:  mpirun -n 2 python examples/distributed_digits.py
(also runs as one process without mpirun). Every rank builds the same model, rank 0's weights
are broadcast, each rank takes its half of every global batch of 64, gradients are averaged by
one allreduce per step, and rank 0 prints progress. BatchNormalization layers, if any, use each
rank's local batch statistics (as Keras and Horovod do).
"""

import graphengine as ge

ge.distributed.initialize()
ge.utils.set_random_seed(42)
(x_train, y_train), (x_test, y_test) = ge.datasets.load_digits()
x_train, x_test = x_train.reshape(-1, 64), x_test.reshape(-1, 64)

model = ge.Sequential(
    [
        ge.Input((64,)),
        ge.layers.Dense(128, activation="relu"),
        ge.layers.Dense(64, activation="relu"),
        ge.layers.Dense(10, activation="softmax"),
    ]
)
model.compile(
    optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], distributed=True
)
model.fit(x_train, y_train, batch_size=64, epochs=20, verbose=2)
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
if ge.distributed.rank() == 0:
    print(f"{ge.distributed.size()} rank(s): test accuracy {accuracy:.2%}")
