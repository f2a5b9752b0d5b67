"""python -m benchmarks: the whole report, in this order: the table against PyTorch eager with
the train-step memory and the cold start (run.py), the compiled anchors (anchors.py: torch.compile,
JAX jit and ONNX Runtime, each where it can be imported), the scale rows (scale.py) and the train
steps with a core taken (contention.py). `python -m benchmarks --only NAMES` (or `--steps N`)
runs the table alone; `python -m benchmarks anchors|scale|contention|coldstart|pydataset [...]`
one part with its own options."""

import importlib
import sys

PARTS = {
    "coldstart": "benchmarks.coldstart",
    "scale": "benchmarks.scale",
    "anchors": "benchmarks.anchors",
    "contention": "benchmarks.contention",
    "pydataset": "benchmarks.pydataset_epoch",
}
REPORT = ("anchors", "scale", "contention")  # after the table, in a run with no arguments

if sys.argv[1:2] and sys.argv[1] in PARTS:
    importlib.import_module(PARTS[sys.argv[1]]).main(sys.argv[2:])
else:
    from benchmarks.run import main

    main()
    if len(sys.argv) == 1:
        for part in REPORT:
            print(f"\n== python -m benchmarks {part} ==", flush=True)
            importlib.import_module(PARTS[part]).main([])
