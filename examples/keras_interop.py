"""From Keras to deployment: load a Keras-trained model, fine-tune it here, export ONNX, run it.

Run: python examples/keras_interop.py [model.keras] [out.onnx]
The default model is examples/keras_files/digits_cnn.keras, a small CNN that Keras 3 trained on
half of the bundled 8x8 digits (examples/keras_files/train_in_keras.py made it); any model file
whose input takes the digits as (8, 8, 1) images or 64 features and whose output has 10 classes
will do. It is loaded (nothing in the file is executed), fine-tuned on the other half of the
digits, exported with `model.export(path, format="onnx")` and run in onnxruntime when it is
installed (else in onnx's own NumPy ReferenceEvaluator); the largest difference from our
predictions is printed.
"""

import os
import sys
import tempfile

import numpy as np

import graphengine as ge

KERAS_FILE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "keras_files", "digits_cnn.keras"
)


def as_model_input(model: ge.Model, images: np.ndarray) -> np.ndarray:
    """The digits shaped as the model's input: (N, 8, 8, 1) images or (N, 64) features."""
    shape = tuple(model.inputs[0].shape[1:])
    if shape not in ((8, 8, 1), (64,)):
        sys.exit(f"model '{model.name}' takes inputs of shape {shape}, not 8x8 digits")
    return images.reshape((len(images),) + shape).astype("float32")


def run_onnx(path: str, x: np.ndarray) -> tuple[str, np.ndarray]:
    """(runtime name, outputs) of the exported file: onnxruntime, else onnx's evaluator."""
    try:
        import onnxruntime
    except ImportError:
        import onnx
        from onnx.reference import ReferenceEvaluator

        proto = onnx.load(path)
        feeds = {proto.graph.input[0].name: x}
        return "onnx ReferenceEvaluator", ReferenceEvaluator(proto).run(None, feeds)[0]
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = f"onnxruntime {onnxruntime.__version__}"
    return name, session.run(None, {session.get_inputs()[0].name: x})[0]


def main() -> None:
    ge.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = ge.datasets.load_digits()
    half = len(x_train) // 2
    with tempfile.TemporaryDirectory() as folder:
        source = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else KERAS_FILE
        model = ge.models.load_model(source)
        print(f"loaded '{model.name}' from {os.path.basename(source)}")
        x_new, x_eval = as_model_input(model, x_train[half:]), as_model_input(model, x_test)
        model.compile(
            optimizer=ge.optimizers.Adam(learning_rate=1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        before = model.evaluate(x_eval, y_test, verbose=0)[1]
        model.fit(x_new, y_train[half:], batch_size=32, epochs=5, verbose=0)
        after = model.evaluate(x_eval, y_test, verbose=0)[1]
        print(f"test accuracy before fine-tuning {before:.2%}, after {after:.2%}")

        path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(folder, "digits.onnx")
        model.export(path, format="onnx")
        runtime, theirs = run_onnx(path, x_eval)
        ours = model.predict(x_eval, verbose=0)
        agree = np.mean(theirs.argmax(-1) == ours.argmax(-1))
        gap = np.abs(theirs - ours).max()
        print(f"{runtime}: max |difference| {gap:.3g}, same class {agree:.0%}")


if __name__ == "__main__":
    main()
