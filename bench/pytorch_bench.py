#!/usr/bin/env python3
"""The NeuronInterop benchmark cases, timed with PyTorch.

Each training step of a Linear layer: forward, MSE cost (PyTorch's mean MSE times 0.5, which is
NeuronInterop's error: sum((y - t)^2) / (2N), gradient (y - t) / N), weight and bias gradients
(no input gradient), SGD update. float32 with TF32 off. Cases and ids match `neuron bench`:

  tutorial  1 -> 1, batch 1, 1000 points on the device, shuffled every epoch   (steps/s)
  huge      1 -> 1, batch 1,048,576                                            (time/step)
  mid       256 -> 256, batch 65,536                                           (time/step)
  large     4096 -> 4096, batch 8,192                                          (time/step, TFLOP/s)

Variants: "eager" (one Python step after another) and, on CUDA, "graph" (the steps captured once
in a CUDA graph and replayed: a whole epoch in a fixed shuffled order for the tutorial case, one
step otherwise). Timing: warm-up, then repeats of at least --min-repeat seconds between CUDA
events (device synchronised), median reported. Writes JSON that `neuron bench --pytorch FILE`
reads to report the ratio NeuronInterop / PyTorch per case.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

LEARNING_RATE = 0.05
SEED = 2024

FULL_CASES = [
    # id, batch, in, out, rows
    ("tutorial", 1, 1, 1, 1000),
    ("huge", 1_048_576, 1, 1, 1_048_576),
    ("mid", 65_536, 256, 256, 65_536),
    ("large", 8_192, 4_096, 4_096, 8_192),
]

# The same sizes as `neuron bench --quick`.
QUICK_CASES = [
    ("tutorial", 1, 1, 1, 64),
    ("huge", 4_096, 1, 1, 4_096),
    ("mid", 128, 32, 32, 128),
    ("large", 64, 128, 128, 64),
]

FLOP_COUNT = ("FLOP per step = 4*B*I*O: forward X*W (2*B*I*O) and weight gradient (2*B*I*O); "
              "no input gradient is computed; bias, cost and SGD update are not counted")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="torch device (default cuda)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repeats (the sizes of neuron bench --quick)")
    parser.add_argument("--cases", nargs="*", default=None, help="case ids to run (default: all)")
    parser.add_argument("--json", dest="json_path", default=None, help="write the results as JSON to this file")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats (default 7, quick 3)")
    parser.add_argument("--min-repeat", type=float, default=None, help="least seconds per repeat (default 0.15, quick 0)")
    parser.add_argument("--warmup", type=float, default=None, help="least warm-up seconds (default 0.2, quick 0)")
    parser.add_argument("--no-graph", action="store_true", help="skip the CUDA-graph variant")
    return parser.parse_args(argv)


class Timer:
    """Wall time of enqueued work: CUDA events on a GPU, perf_counter otherwise; synchronised at both ends."""

    def __init__(self, torch, device):
        self.torch = torch
        self.cuda = device.type == "cuda"

    def synchronize(self):
        if self.cuda:
            self.torch.cuda.synchronize()

    def measure(self, run_unit, warmup_s, min_units_warmup, min_repeat_s, repeats):
        """run_unit enqueues one unit of work and returns its step count; returns per-step seconds of each repeat."""
        start = time.perf_counter()
        units = 0
        while units < min_units_warmup or time.perf_counter() - start < warmup_s:
            run_unit()
            units += 1
        self.synchronize()

        t0 = time.perf_counter()
        run_unit()
        self.synchronize()
        unit_s = max(time.perf_counter() - t0, 1e-9)
        per_repeat = max(1, min(1_000_000, int(-(-min_repeat_s // unit_s))))

        per_step = []
        steps = 0
        for _ in range(repeats):
            steps = 0
            if self.cuda:
                begin = self.torch.cuda.Event(enable_timing=True)
                end = self.torch.cuda.Event(enable_timing=True)
                begin.record()
                for _ in range(per_repeat):
                    steps += run_unit()
                end.record()
                end.synchronize()
                seconds = begin.elapsed_time(end) / 1e3
            else:
                t0 = time.perf_counter()
                for _ in range(per_repeat):
                    steps += run_unit()
                seconds = time.perf_counter() - t0
            per_step.append(seconds / steps)
        return per_step, steps


def make_model(torch, case, device):
    _, _, in_size, out_size, _ = case
    torch.manual_seed(SEED)
    model = torch.nn.Linear(in_size, out_size, bias=True).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    return model, optimizer


def make_data(torch, case, device):
    case_id, _, in_size, out_size, rows = case
    if case_id == "tutorial":
        x = torch.linspace(-1.0, 1.0, rows, device=device, dtype=torch.float32).reshape(rows, 1)
        return x, 2.0 * x + 1.0
    generator = torch.Generator(device=device)
    generator.manual_seed(SEED)
    x = torch.rand(rows, in_size, device=device, generator=generator) * 2 - 1
    t = torch.rand(rows, out_size, device=device, generator=generator) * 2 - 1
    return x, t


def train_step(torch, model, optimizer, x, t):
    optimizer.zero_grad(set_to_none=True)
    loss = 0.5 * torch.nn.functional.mse_loss(model(x), t)
    loss.backward()
    optimizer.step()


def eager_unit(torch, case, model, optimizer, x, t):
    _, batch, _, _, rows = case
    if rows == batch:
        def unit():
            train_step(torch, model, optimizer, x, t)
            return 1
        return unit

    batches = (rows + batch - 1) // batch
    generator = torch.Generator()
    generator.manual_seed(SEED)

    def unit():
        # A fresh shuffled order each epoch, drawn on the host; slicing makes views, no copies.
        for b in torch.randperm(batches, generator=generator).tolist():
            train_step(torch, model, optimizer, x[b * batch:(b + 1) * batch], t[b * batch:(b + 1) * batch])
        return batches
    return unit


def graph_unit(torch, case, model, optimizer, x, t):
    """Captures one epoch (fixed shuffled order) or one step in a CUDA graph; the unit replays it."""
    _, batch, _, _, rows = case
    batches = (rows + batch - 1) // batch
    generator = torch.Generator()
    generator.manual_seed(SEED + 1)
    order = torch.randperm(batches, generator=generator).tolist()

    def steps():
        for b in order:
            train_step(torch, model, optimizer, x[b * batch:(b + 1) * batch], t[b * batch:(b + 1) * batch])

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            steps()
    torch.cuda.current_stream().wait_stream(side)

    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        steps()

    def unit():
        graph.replay()
        return batches
    return unit, graph


def run_case(torch, case, device, variant, timer, plan):
    case_id, batch, in_size, out_size, rows = case
    result = {"case_id": case_id, "variant": variant, "batch": batch, "in_size": in_size,
              "out_size": out_size, "rows": rows}
    model = optimizer = x = t = keep = None
    try:
        model, optimizer = make_model(torch, case, device)
        x, t = make_data(torch, case, device)
        if variant == "eager":
            unit = eager_unit(torch, case, model, optimizer, x, t)
        else:
            unit, keep = graph_unit(torch, case, model, optimizer, x, t)
            result["note"] = ("one epoch in a fixed shuffled order per replay" if rows > batch
                              else "one step per replay")
        per_step, steps = timer.measure(unit, plan["warmup"], 2 if plan["warmup"] > 0 else 1,
                                        plan["min_repeat"], plan["repeats"])
        if not all(torch.isfinite(p).all().item() for p in model.parameters()):
            raise RuntimeError("the parameters are not finite after training")
        median = statistics.median(per_step)
        flops = 4.0 * batch * in_size * out_size
        result.update({
            "seconds_per_step": median,
            "min_seconds_per_step": min(per_step),
            "max_seconds_per_step": max(per_step),
            "steps_per_second": 1.0 / median,
            "flops_per_step": flops,
            "tflops": flops / median / 1e12,
            "repeats": len(per_step),
            "steps_per_repeat": steps,
        })
    except Exception as e:  # report and go on with the next case
        result.update({"seconds_per_step": 0.0, "error": f"{type(e).__name__}: {e}"})
    finally:
        del keep, model, optimizer, x, t
        if device.type == "cuda":
            try:
                torch.cuda.synchronize()
                torch.cuda.empty_cache()
            except Exception as e:  # a sticky CUDA error: this case's result already says what failed
                result.setdefault("error", f"{type(e).__name__}: {e}")
    return result


def format_seconds(s):
    if not s:
        return "-"
    for scale, unit in ((1, "s"), (1e-3, "ms"), (1e-6, "us")):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def without_non_finite(value):
    """The value with every NaN or infinite float replaced by None, in dicts and lists too."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: without_non_finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_non_finite(item) for item in value]
    return value


def write_report(path, report):
    """Writes the report as strict JSON (the C# reader rejects NaN and Infinity: a non-finite number becomes
    null), through a file beside it, so that a run killed while writing leaves the previous version whole."""
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8") as f:
        json.dump(without_non_finite(report), f, indent=2, allow_nan=False)
        f.write("\n")
    os.replace(partial, path)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import torch  # imported here so that --help works without torch

    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")

    cases = QUICK_CASES if args.quick else FULL_CASES
    if args.cases:
        known = [c[0] for c in cases]
        unknown = [c for c in args.cases if c not in known]
        if unknown:
            print(f"unknown case(s) {', '.join(unknown)}; the cases are {', '.join(known)}", file=sys.stderr)
            return 2
        cases = [c for c in cases if c[0] in args.cases]

    plan = {
        "repeats": args.repeats or (3 if args.quick else 7),
        "min_repeat": args.min_repeat if args.min_repeat is not None else (0.0 if args.quick else 0.15),
        "warmup": args.warmup if args.warmup is not None else (0.0 if args.quick else 0.2),
    }
    variants = ["eager"] + ([] if args.no_graph or device.type != "cuda" else ["graph"])
    timer = Timer(torch, device)

    results = []
    report = {
        "tool": "pytorch",
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "quick": args.quick,
        "tf32": bool(torch.backends.cuda.matmul.allow_tf32),
        "learning_rate": LEARNING_RATE,
        "flop_count": FLOP_COUNT,
        "timing_method": (f"{'CUDA events' if device.type == 'cuda' else 'perf_counter'} around repeats of enqueued steps, "
                          f"device synchronised; warm-up >= {plan['warmup']} s, "
                          f"{plan['repeats']} repeats of >= {plan['min_repeat']} s; median reported"),
        "results": results,
    }
    for case in cases:
        for variant in variants:
            r = run_case(torch, case, device, variant, timer, plan)
            if "error" not in r and not (math.isfinite(r["seconds_per_step"]) and r["seconds_per_step"] > 0):
                r.update({"error": f"no usable time ({r['seconds_per_step']} s per step)", "seconds_per_step": 0.0})
            results.append(r)
            status = r.get("error") or (f"{format_seconds(r['seconds_per_step'])}/step, "
                                        f"{r['steps_per_second']:,.0f} steps/s, {r['tflops']:.3f} TFLOP/s")
            print(f"{r['case_id']:<9} {variant:<6} batch {r['batch']:>9,} {r['in_size']:>5} -> {r['out_size']:<5} {status}",
                  flush=True)
            # Written after every case, so that a run cut short keeps what it measured.
            if args.json_path:
                write_report(args.json_path, report)
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
