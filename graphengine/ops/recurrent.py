"""Recurrent primitives. A whole SimpleRNN, LSTM or GRU sequence is one op (`RecurrentSequence`):
the input projection x W, then per step the recurrent product on BLAS and one fused gate kernel (on
CUDA the projection of all steps is one product up front; on the CPU each thread projects its rows
step by step, just before the step reads them, which is faster there). Its backward pass is one BPTT
op (`RecurrentSequenceGrad`, giving every step's pre-activation gradients), then the input gradient
(`RecurrentInputGrad`) and the weight gradients (`RecurrentWeightGrad`), each one product over all
steps (in row blocks). Large batches run their rows in threads, each thread running its whole
sequence in one kernel call (graphengine_kernels.cpu.recurrent_sequences).

Per-step work never allocates: besides the real outputs (y, final states) the forward op has outputs
for what the backward pass reads (time-major input, gate activations, states before each step) and
for per-step scratch. The plan preallocates all of them and recycles the scratch as soon as the op
has run (nothing reads it), and `apply` allocates them for an eager call; so the memory is the
plan's, sized once per batch shape, and no kernel call ever allocates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops.base import Op, RunContext, Spec
from graphengine_kernels import sequences as seq
from graphengine_kernels.activation_codes import RECURRENT, codes, fuses, names

GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
CODES = codes(RECURRENT)  # the fused kernels' activation codes, by name

_DUMMIES: dict[tuple[str, int], np.ndarray] = {}


def _dummy(dtype: Any, ndim: int) -> np.ndarray:
    """A (1, ..., 1) stand-in for an absent optional kernel argument (its flag is False)."""
    key = (np.dtype(dtype).name, ndim)
    if key not in _DUMMIES:
        _DUMMIES[key] = np.zeros((1,) * ndim, dtype)
    return _DUMMIES[key]


def dropout_on(rate: float) -> bool:
    """Keras applies recurrent dropout only for 0 < rate < 1."""
    return 0.0 < rate < 1.0


class RecurrentSequence(Op):
    """The cell `cell` run over a (N, T, D) sequence. Inputs: x, initial states (if
    `has_state`: h0, and c0 for an LSTM), kernel (D, G*U), recurrent_kernel (U, G*U), bias (if
    `use_bias`: (G*U,), or (2, 3U) for a GRU with reset_after) and mask (N, T) (if `has_mask`).
    Outputs: y ((N, T, U) with return_sequences, else (N, U)), the final states, then saved
    tensors and scratch (see `out_names`)."""

    def __init__(
        self,
        cell: str,
        units: int,
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
        use_bias: bool = True,
        reset_after: bool = True,
        return_sequences: bool = False,
        go_backwards: bool = False,
        zero_output_for_mask: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        has_state: bool = False,
        has_mask: bool = False,
        training: bool | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        if cell not in GATES:
            raise ValueError(f"unknown recurrent cell {cell!r}; valid: {', '.join(GATES)}")
        named = (("activation", activation), ("recurrent_activation", recurrent_activation))
        for what, act in named:
            if not fuses(act, RECURRENT):
                raise ValueError(
                    f"{cell}: {what}={act!r} has no fused kernel; supported: "
                    f"{', '.join(names(RECURRENT))}"
                )
        self.name = f"{cell}_sequence"
        self.cell, self.units = cell, int(units)
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self.use_bias, self.reset_after = use_bias, reset_after if cell == "gru" else True
        self.return_sequences, self.go_backwards = return_sequences, go_backwards
        self.zero_output_for_mask = zero_output_for_mask
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.has_state, self.has_mask = has_state, has_mask
        self.training = training
        self._rng = rng
        self._act, self._ract = CODES[activation], CODES[recurrent_activation]
        self.lstm, self.gru = cell == "lstm", cell == "gru"
        self.drop, self.rdrop = dropout_on(self.dropout), dropout_on(self.recurrent_dropout)
        self.in_names = self._input_names()
        self.out_names = self._output_names()
        self.n_states = 2 if self.lstm else 1

    def attrs(self) -> dict[str, Any]:
        keys = (
            "units",
            "activation",
            "recurrent_activation",
            "use_bias",
            "return_sequences",
            "go_backwards",
            "dropout",
            "recurrent_dropout",
        )
        extra = ("reset_after",) if self.gru else ()
        return {k: getattr(self, k) for k in keys + extra}

    def _input_names(self) -> list[str]:
        states = (["h0", "c0"] if self.lstm else ["h0"]) if self.has_state else []
        return (
            ["x", *states, "kernel", "recurrent_kernel"]
            + (["bias"] if self.use_bias else [])
            + (["mask"] if self.has_mask else [])
        )

    def _output_names(self) -> list[str]:
        names = ["y", "h"] + (["c"] if self.lstm else []) + ["xt", "gates", "hs"]
        names += ["cs", "tcs"] if self.lstm else []
        names += ["aux"] if self.gru else []
        names += ["hd", "rmask"] if self.rdrop else []
        names += ["dmask"] if self.drop else []
        names += ["hr"] + (["hrh"] if self.gru and not self.reset_after else [])
        return names

    # -- shapes --------------------------------------------------------------------------------
    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        s = dict(zip(self.in_names, shapes))
        x, dtype = s["x"], dtypes[0]
        if len(x) != 3:
            raise ValueError(
                f"{self.name}: expected a 3-D input (batch, timesteps, features), received "
                f"shape {format_shape(x)}"
            )
        if x[1] == 0:
            raise ValueError(f"{self.name}: the input has 0 timesteps (shape {format_shape(x)})")
        for name, d in zip(self.in_names, dtypes):
            if name != "mask" and d != dtype:
                raise TypeError(f"{self.name}: {name} has dtype {d}, but x has dtype {dtype}")
        if np.dtype(dtype).kind != "f":
            raise TypeError(f"{self.name}: expected a float input, received dtype {dtype}")
        N, T, D = x
        U, G = self.units, GATES[self.cell] * self.units
        bias = (2, G) if self.gru and self.reset_after else (G,)
        expect = {"kernel": (D, G), "recurrent_kernel": (U, G), "bias": bias, "mask": (N, T)}
        expect.update({name: (N, U) for name in ("h0", "c0")})
        for name, shape in s.items():
            want = expect.get(name)
            if want is not None and not _fits(shape, want):
                raise ValueError(
                    f"{self.name}: {name} must have shape {format_shape(want)}, received "
                    f"{format_shape(shape)}"
                )
        sizes = {"y": (N, T, U) if self.return_sequences else (N, U), "h": (N, U), "c": (N, U)}
        sizes.update({"xt": (T, N, D), "gates": (T, N, G), "hr": (N, G), "hrh": (N, U)})
        sizes.update({k: (T, N, U) for k in ("hs", "cs", "tcs", "aux", "hd")})
        sizes.update({"dmask": (N, D), "rmask": (N, U)})
        if self.gru and not self.reset_after:
            sizes["hr"] = (N, 2 * U)
        return [(sizes[name], dtype) for name in self.out_names]

    # -- running -------------------------------------------------------------------------------
    def _dropout_mask(self, k: Any, rate: float, out: np.ndarray, ctx: RunContext) -> None:
        """Training: a fresh mask for this sequence; otherwise ones, so the backward op (which
        runs under the same flag) reads consistent saved tensors either way."""
        training = self.training if self.training is not None else ctx.training
        if training:
            k.rnn_dropout_mask(rate, self._rng or ctx.rng, out)
        else:
            k.fill(1.0, out)

    def forward(self, k: Any, ins: list, outs: list, ctx: RunContext) -> None:
        i, o = dict(zip(self.in_names, ins)), dict(zip(self.out_names, outs))
        x = i["x"]
        N, T, D = x.shape
        dmask = o.get("dmask")
        if dmask is not None:
            self._dropout_mask(k, self.dropout, dmask, ctx)
        if self.rdrop:
            self._dropout_mask(k, self.recurrent_dropout, o["rmask"], ctx)
        xt, gates = o["xt"], o["gates"]
        d2 = _dummy(x.dtype, 2)
        k.rnn_to_time_major(x, self.go_backwards, d2 if dmask is None else dmask, self.drop, xt)
        hs = o["hs"]
        _initial(k, i.get("h0"), hs[0])
        if self.rdrop:
            k.multiply(hs[0], o["rmask"], o["hd"][0])
        if self.lstm:
            _initial(k, i.get("c0"), o["cs"][0])
        stages = self._stages(k, i, o, self._step_fields(i, o))
        projection = (xt, i["kernel"], gates)  # gates = x W, then the step's kernel adds h R
        U, G = self.units, GATES[self.cell] * self.units
        k.rnn_forward_sequence(N, T * N * (D + U) * G, projection, stages)

    def _step_fields(self, i: dict, o: dict) -> dict[str, Any]:
        """The fields the forward step records share (graphengine_kernels.sequences), the same at
        every step; absent optional arrays are dummies with their flag False."""
        dtype, bias, mask, y = o["gates"].dtype, i.get("bias"), i.get("mask"), o["y"]
        d1, d2, d3 = _dummy(dtype, 1), _dummy(dtype, 2), _dummy(dtype, 3)
        return dict(
            gates=o["gates"],
            # the input-side bias is added in the step kernel (b[0] for a GRU with reset_after)
            bias=d1 if bias is None else bias[0] if bias.ndim == 2 else bias,
            has_bias=bias is not None,
            mask=d2 if mask is None else mask,  # any dtype: the kernels test it against 0
            has_mask=mask is not None,
            reverse=self.go_backwards,
            act=self._act,
            hs=o["hs"],
            rmask=o["rmask"] if self.rdrop else d2,
            has_rmask=self.rdrop,
            hd=o["hd"] if self.rdrop else d3,
            y=y if self.return_sequences else y.reshape(y.shape[0], 1, y.shape[1]),
            seq_out=self.return_sequences,
            zero_out=self.zero_output_for_mask,
            h_last=o["h"],
        )

    def _stages(self, k: Any, i: dict, o: dict, step: dict[str, Any]) -> tuple:
        """The stages of a step (graphengine_kernels.sequences): the recurrent product on BLAS, then
        the gate math in one fused kernel (twice for a GRU without reset_after)."""
        R, hr, bias, ract = i["recurrent_kernel"], o["hr"], i.get("bias"), self._ract
        hin = o["hd"] if self.rdrop else o["hs"]  # the left operand of the recurrent product
        if self.cell == "simple_rnn":
            return ((hin, R, hr, k.simple_rnn_forward_step, seq.SimpleRNNForward(hr=hr, **step)),)
        if self.lstm:
            lstm = dict(cs=o["cs"], tcs=o["tcs"], c_last=o["c"])
            args = seq.LSTMForward(hr=hr, ract=ract, **lstm, **step)
            return ((hin, R, hr, k.lstm_forward_step, args),)
        if self.reset_after:
            brec = step["bias"] if bias is None else bias[1]
            args = seq.GRUForward(hr=hr, brec=brec, aux=o["aux"], ract=ract, **step)
            return ((hin, R, hr, k.gru_forward_step, args),)
        # GRU, reset gate before the product: z, r first, then the candidate's product with r h
        u2 = 2 * self.units
        r_zr, r_h, aux, hrh = R[:, :u2], R[:, u2:], o["aux"], o["hrh"]
        biases = {name: step[name] for name in ("gates", "bias", "has_bias")}
        gate_args = seq.GRUGates(hr=hr, hin=hin, aux=aux, ract=ract, **biases)
        return (
            (hin, r_zr, hr, k.gru_forward_gates, gate_args),
            (aux, r_h, hrh, k.gru_forward_candidate, seq.GRUCandidate(hrh=hrh, **step)),
        )


def _initial(k: Any, state: Any, out: np.ndarray) -> None:
    if state is None:
        k.fill(0.0, out)
    else:
        k.copy(state, out)


def _fits(shape: Shape, want: tuple) -> bool:
    return len(shape) == len(want) and all(
        a is None or b is None or a == b for a, b in zip(shape, want)
    )


class RecurrentSequenceGrad(Op):
    """BPTT for a `RecurrentSequence`. Inputs: the cotangents present (dy, dh, dc, per the
    has_* flags), the recurrent kernel, then the forward's saved tensors (`saved_names`) and
    the mask. Outputs: dz (T, N, G*U), the pre-activation gradients of every step (for a GRU
    with reset_after also dzh, the recurrent side's), the initial states' gradients (if the
    forward had them), then scratch."""

    def __init__(self, forward_op: RecurrentSequence, has_dy: bool, has_dh: bool, has_dc: bool):
        self.fwd = f = forward_op
        self.name = f"{f.name}_grad"
        cots = [n for n, has in (("dy", has_dy), ("dh", has_dh), ("dc", has_dc)) if has]
        self.saved_names = ["gates", "hs"] + (["cs", "tcs"] if f.lstm else [])
        self.saved_names += (["aux"] if f.gru else []) + (["hd", "rmask"] if f.rdrop else [])
        self.in_names = cots + ["recurrent_kernel"] + self.saved_names
        self.in_names += ["mask"] if f.has_mask else []
        self.out_names = ["dz"] + (["dzh"] if f.gru and f.reset_after else [])
        self.out_names += (["dh0", "dc0"] if f.lstm else ["dh0"]) if f.has_state else []
        self.out_names += ["dhr", "dpass", "dout", "rt"] + (["dcarry"] if f.lstm else [])
        self.out_names += ["daux"] if f.gru and not f.reset_after else []

    def attrs(self) -> dict[str, Any]:
        return self.fwd.attrs()

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        s = dict(zip(self.in_names, shapes))
        T, N, G = s["gates"]
        U, dtype = self.fwd.units, dtypes[self.in_names.index("gates")]
        sizes = {"dz": (T, N, G), "dzh": (T, N, G), "rt": (G, U)}
        return [(sizes.get(name, (N, U)), dtype) for name in self.out_names]

    def forward(self, k: Any, ins: list, outs: list, ctx: RunContext) -> None:
        f = self.fwd
        i, o = dict(zip(self.in_names, ins)), dict(zip(self.out_names, outs))
        gates = i["gates"]
        T, N, _ = gates.shape
        d2, d3 = _dummy(gates.dtype, 2), _dummy(gates.dtype, 3)
        k.fill(0.0, o["dhr"])
        _initial(k, i.get("dh"), o["dpass"])  # dh_T reaches h_T directly, not through R
        if f.lstm:
            _initial(k, i.get("dc"), o["dcarry"])
        dy = i.get("dy")
        has_dy = dy is not None and f.return_sequences
        _initial(k, None if f.return_sequences else dy, o["dout"])
        mask = i.get("mask")  # any dtype: the kernels test it against 0
        step = dict(  # the fields the backward step records share (graphengine_kernels.sequences)
            dz=o["dz"],
            gates=gates,
            dhr=o["dhr"],
            dpass=o["dpass"],
            dout=o["dout"],
            dy=dy if has_dy else d3,
            has_dy=has_dy,
            rmask=i["rmask"] if f.rdrop else d2,
            has_rmask=f.rdrop,
            zero_out=f.zero_output_for_mask,
            mask=d2 if mask is None else mask,
            has_mask=mask is not None,
            reverse=f.go_backwards,
            act=f._act,
        )
        U, G = f.units, GATES[f.cell] * f.units
        k.rnn_backward_sequence(N, T * N * U * G, self._stages(k, i, o, step))
        if f.has_state:
            k.rnn_backward_finish(0, N, o["dhr"], step["rmask"], f.rdrop, o["dpass"], o["dh0"])
            if f.lstm:
                k.copy(o["dcarry"], o["dc0"])

    def _stages(self, k: Any, i: dict, o: dict, step: dict[str, Any]) -> tuple:
        """The stages of a step (graphengine_kernels.sequences): the fused gate-gradient kernel,
        then the product with R^T that carries the gradient to step t - 1."""
        f = self.fwd
        # R^T copied once: the per-step products then read a C-contiguous right operand, which
        # BLAS runs about 25% faster than the transposed view
        rt, dz, dhr, ract = o["rt"], o["dz"], o["dhr"], f._ract
        k.transpose(i["recurrent_kernel"], (1, 0), rt)
        if f.cell == "simple_rnn":
            return ((dz, rt, dhr, k.simple_rnn_backward_step, seq.SimpleRNNBackward(**step)),)
        if f.lstm:
            lstm = dict(dc=o["dcarry"], cs=i["cs"], tcs=i["tcs"])
            args = seq.LSTMBackward(ract=ract, **lstm, **step)
            return ((dz, rt, dhr, k.lstm_backward_step, args),)
        if f.reset_after:
            dzh = o["dzh"]
            args = seq.GRUBackward(dzh=dzh, aux=i["aux"], hs=i["hs"], ract=ract, **step)
            return ((dzh, rt, dhr, k.gru_backward_step, args),)
        u2 = 2 * f.units
        r_zr, r_h, daux = rt[:u2], rt[u2:], o["daux"]
        hin = i["hd"] if f.rdrop else i["hs"]
        cand_args = seq.GRUCandidateBackward(hs=i["hs"], ract=ract, **step)
        keys = ("dz", "gates", "dpass", "rmask", "has_rmask")
        gate_args = seq.GRUGatesBackward(
            hin=hin, daux=daux, ract=ract, **{n: step[n] for n in keys}
        )
        return (
            (dz[:, :, u2:], r_h, daux, k.gru_backward_candidate, cand_args),
            (dz[:, :, :u2], r_zr, dhr, k.gru_backward_gates, gate_args),
        )


class RecurrentInputGrad(Op):
    """dx (N, T, D) = (dz @ kernel^T) back in batch-major order, times the input dropout mask.
    Inputs dz (T, N, G), kernel (D, G), x (shape only), and the dropout mask if any; outputs
    dx, then scratch: the time-major dx and kernel^T."""

    shape_only = (2,)

    def __init__(self, forward_op: RecurrentSequence) -> None:
        self.name = f"{forward_op.name}_input_grad"
        self.go_backwards = forward_op.go_backwards

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        T, N, _ = shapes[0]
        D = shapes[1][0]
        return [(shapes[2], dtypes[0]), ((T, N, D), dtypes[0]), (shapes[1][::-1], dtypes[0])]

    def forward(self, k: Any, ins: list, outs: list, ctx: RunContext) -> None:
        dz, kernel = ins[0], ins[1]
        dx, dxt, kernel_t = outs
        T, N, G = dz.shape
        k.transpose(kernel, (1, 0), kernel_t)  # a C-contiguous right operand is faster
        dz2, dxt2 = dz.reshape(T * N, G), dxt.reshape(T * N, dxt.shape[2])
        k.rnn_matmul(dz2, kernel_t, dxt2, dz.size * kernel.shape[0])
        dmask = ins[3] if len(ins) > 3 else None
        d2 = _dummy(dz.dtype, 2)
        k.rnn_from_time_major(
            dxt, self.go_backwards, d2 if dmask is None else dmask, dmask is not None, dx
        )


# The weight gradients sum over all T * N rows. Split into this many blocks of rows (at most),
# each one product into its own partial sum, the blocks run in threads; the count depends on
# the rows only, never on the thread count, so the sums (and training) are the same on any
# number of threads. A row block of 1024 or more keeps each product efficient: measured, LSTM(128)
# on 3200 rows, one thread's half of the rows 3.2 ms against 4.4 ms for half of the columns.
_WEIGHT_GRAD_BLOCKS = 8
_WEIGHT_GRAD_BLOCK_ROWS = 1024


def weight_grad_blocks(rows: int | None) -> int | None:
    """The number of row blocks: the largest power of two with blocks of at least
    _WEIGHT_GRAD_BLOCK_ROWS rows, 1 to _WEIGHT_GRAD_BLOCKS."""
    if rows is None:
        return None
    blocks = 1
    while 2 * blocks <= _WEIGHT_GRAD_BLOCKS and rows >= 2 * blocks * _WEIGHT_GRAD_BLOCK_ROWS:
        blocks *= 2
    return blocks


class RecurrentWeightGrad(Op):
    """The weight gradients from every step's pre-activation gradients, as products over all
    T * N rows: dkernel = xt^T dz, drecurrent_kernel = hin^T dz (dzh for a GRU with
    reset_after; for one without, the candidate's columns take aux^T = (r * h)^T instead),
    dbias = the rows' sums (two rows for a GRU with reset_after: input side, recurrent side).
    Inputs xt, hin, then aux (GRU without reset_after), dz, then dzh (GRU with reset_after).
    Outputs dkernel, drecurrent_kernel, dbias (with use_bias), then scratch: [xt | hin | 1] and
    the blocks' partial sums.

    Where both take dz, dkernel and drecurrent_kernel come from one product [xt | hin]^T dz
    (about 25% faster than two, the narrow xt^T being inefficient on its own), and with one
    bias a column of ones, [xt | hin | 1], makes the bias gradient the product's last row
    instead of a separate pass over dz. The rows are split into blocks (weight_grad_blocks),
    each giving a partial (D + U + bias rows, G) = [dkernel; drecurrent_kernel; dbias], summed
    at the end; the blocks run in threads, each on single-threaded BLAS."""

    def __init__(self, forward_op: RecurrentSequence) -> None:
        f = forward_op
        self.name = f"{f.name}_weight_grad"
        self.split = 2 * f.units if f.gru and not f.reset_after else None
        self.use_bias, self.two_biases = f.use_bias, f.gru and f.reset_after
        self.ones = int(f.use_bias and not self.two_biases)  # the column of ones in [xt | hin]
        self.bias_rows = (2 if self.two_biases else 1) if f.use_bias else 0
        self.in_names = ["xt", "hin"] + (["aux"] if self.split else []) + ["dz"]
        self.in_names += ["dzh"] if self.two_biases else []

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        s = dict(zip(self.in_names, shapes))
        (T, N, D), U, G, dtype = s["xt"], s["hin"][2], s["dz"][2], dtypes[0]
        specs = [((D, G), dtype), ((U, G), dtype)]
        if self.use_bias:
            specs.append(((2, G) if self.two_biases else (G,), dtype))
        rows = None if T is None or N is None else T * N
        partials = (weight_grad_blocks(rows), D + U + self.bias_rows, G)
        return specs + [((rows, D + U + self.ones), dtype), (partials, dtype)]

    def forward(self, k: Any, ins: list, outs: list, ctx: RunContext) -> None:
        i = {name: a.reshape(-1, a.shape[-1]) for name, a in zip(self.in_names, ins)}
        dk, dr, xh, partials = outs[0], outs[1], outs[-2], outs[-1]
        D, DU = i["xt"].shape[1], i["xt"].shape[1] + i["hin"].shape[1]
        rows, G = i["dz"].shape
        merged = min(self.split or G, 0 if self.two_biases else G)  # columns [0, merged)
        left, right = i.get("aux", i["hin"]), i.get("dzh", i["dz"])
        work = rows * G * partials.shape[1]
        k.rnn_weight_grad(
            i["xt"], i["hin"], left, right, i["dz"], i.get("dzh"), xh, merged, self.use_bias,
            partials, work,
        )  # fmt: skip
        grads = [(dk, 0, D), (dr, D, DU)]
        if self.use_bias:
            grads.append((outs[2], DU, DU + self.bias_rows))
        for out, r0, r1 in grads:  # the blocks' sum, in a fixed order
            k.sum_forward(partials[:, r0:r1], (0,), out.reshape(1, r1 - r0, G))
