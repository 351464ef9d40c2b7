"""The effect of each speed lever on LoRA training and prediction, one lever at a time, in one run.

    python benchmarks/levers.py --model minilm --train-samples 2000 --data-dir ../shared/data/sst2

Training rows start from the reference's data path (random batches padded by the tokenizer's
`pad`) and switch on one lever at a time (packing the random batches; then length-bucketed batches
in its place, which change what a batch holds); prediction rows compare unsorted small batches with
length-sorted ones, then drop the last layer's work for every token but [CLS]. On a CPU with bf16
instructions (AVX512-BF16, AMX; fast or not by the precision rule) every training row runs in both fp32 and bf16, with two more bf16 levers:
attention dropout drawn by `FastDropout` and the frozen weights held in bf16 for the run. On a CPU
without them bf16 is timed on a few steps only, because it is many times slower there. Two rows
swap one part of the library's default: the optimiser (torch's AdamW looping over the weights in
place of the fused AdamW the Trainer builds) and the step (compiled by `training.compile: on`, on a
cache filled by one untimed run first, so every timed round starts warm). The first
line says which CPU ran it. Every lever is timed once per round, the rounds
interleaved, and the table shows the median: on a shared or virtual machine the speed of the
cores drifts, and interleaving keeps the drift from favouring one lever. Writes JSON.
"""
import statistics
import argparse, json, os, time
from contextlib import contextmanager
from pathlib import Path
import numpy as np
import torch

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="minilm")
    p.add_argument("--data-dir", default=os.environ.get("LWFT_DATA_DIR"))
    p.add_argument("--train-samples", type=int, default=2000)
    p.add_argument("--bf16-samples", type=int, default=128, help="examples timed in bf16 (it can be very slow)")
    p.add_argument("--rounds", type=int, default=2, help="times each lever is measured (the median is shown)")
    p.add_argument("--output", default="benchmarks/results/levers.json")
    return p.parse_args(argv)

class TokenizerPadCollator:
    "The reference's collator: the tokenizer pads each example's dict in Python."
    def __init__(self, tokenizer): self.tokenizer = tokenizer
    def __call__(self, features):
        b = self.tokenizer.pad([{"input_ids": f["input_ids"]} for f in features], return_tensors="pt")
        b["labels"] = torch.tensor([f["labels"] for f in features]); return b

@contextmanager
def _weights_as_they_are(model, dtype=None): yield model

def looping_adamw(model, lora, args, head_learning_rate=None):
    "torch's AdamW over the trainable weights, one weight at a time (`foreach=False`, `fused=False`): the unfused optimiser."
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.learning_rate,
                             weight_decay=args.weight_decay, foreach=False, fused=False)

def time_training(loader, train, n, collator=None, attention_dropout=True, frozen_weights=True, fused_adamw=True, **kw):
    """Train samples/s of one LoRA run (r=8 on query+value) with `LoRATrainer`, its collator optionally replaced.

    `attention_dropout=False` leaves attention dropout to sdpa's own masks; `frozen_weights=False` leaves the frozen weights in fp32;
    `fused_adamw=False` trains with `looping_adamw`."""
    import lightweight_ft.lora_trainer as lt
    model, tok = loader.load_model()
    originals = lt.PadCollator, lt._fast_dropout_attention, lt.frozen_weights_in, lt.training_optimizer
    if collator is not None: lt.PadCollator = lambda pad_id: collator(tok)
    if not attention_dropout: lt._fast_dropout_attention = lambda fallback: fallback
    if not frozen_weights: lt.frozen_weights_in = _weights_as_they_are
    if not fused_adamw: lt.training_optimizer = looping_adamw
    try:
        t = lt.LoRATrainer(model, tok)
        t.train(train.select(range(n)), method="lora", lora_r=8, lora_alpha=16, target_modules="query_value", learning_rate=5e-4,
                seed=0, progress=False, **kw)
    finally: lt.PadCollator, lt._fast_dropout_attention, lt.frozen_weights_in, lt.training_optimizer = originals
    if kw.get("compile") == "on" and not t.train_report.get("compiled"):
        raise SystemExit(f"levers: the compiled row ran eager: {t.train_report.get('compile_failure', t.speedups.get('compiled_step'))}")
    return t.train_report["train_samples_per_s"]

COMPILED_ROW = "  compiled step (training.compile: on, warm cache)" # one untimed run fills its cache before the rounds

def training_levers(loader, train, n, precision: str) -> list:
    "The training rows in `precision`: from the reference's data path, one lever added at a time, then alternatives to the default."
    def run(**kw): return lambda: time_training(loader, train, n, precision=precision, **kw)
    before_bf16_levers = dict(attention_dropout=False, frozen_weights=False)
    rows = [
        ("random batches, tokenizer.pad collator, torch dropout (reference)", run(collator=TokenizerPadCollator, batching="random", fast_dropout=False, cls_only=False)),
        ("+ tensor padding collator", run(batching="random", fast_dropout=False, cls_only=False)),
        ("+ packed sentences (same batches, no padding)", run(fast_dropout=False, cls_only=False)),
        ("+ FastDropout masks (attention dropout left to sdpa)", run(cls_only=False, **before_bf16_levers)),
        ("+ last layer computes only [CLS]", run(**before_bf16_levers)),
        ("+ attention dropout drawn by FastDropout", run(frozen_weights=False)),
    ]
    if precision == "bf16": rows.append(("+ frozen weights held in bf16 (library default)", run()))
    else: rows[-1] = (rows[-1][0] + " (library default)", rows[-1][1])
    rows += [("  length-bucketed batches instead of packed ones", run(batching="length_buckets")),
             ("  batch size 16 instead of 32", run(batch_size=16)),
             ("  batch size 64 instead of 32", run(batch_size=64)),
             ("  AdamW looping over the weights instead of fused", run(fused_adamw=False)),
             (COMPILED_ROW, run(compile="on"))]
    return [(f"train {precision}", lever, f) for lever, f in rows]

def time_prediction(model, dev, pad_id, batch_size, sort, cls_only=True):
    from lightweight_ft.prediction import predict_probabilities
    from lightweight_ft.data import PadCollator
    t0 = time.perf_counter()
    if sort: predict_probabilities(model, dev, batch_size, pad_id, cls_only=cls_only)
    else:
        collate, model = PadCollator(pad_id), model.eval()
        with torch.inference_mode():
            for s in range(0, len(dev), batch_size):
                b = collate([dev[i] for i in range(s, min(s + batch_size, len(dev)))])
                model(input_ids=b["input_ids"], attention_mask=b["attention_mask"])
    return len(dev) / (time.perf_counter() - t0)

def main(argv=None):
    a = parse_args(argv)
    from lightweight_ft.model_loader import ModelLoader
    from lightweight_ft.precision import cpu_has_bf16_instructions
    from lightweight_ft.environment import environment_report
    env = environment_report()
    # rows in both precisions wherever bf16 instructions exist, fast or not (`env["cpu_bf16"]`: the precision rule's answer)
    bf16_instructions = cpu_has_bf16_instructions()
    print(f"machine: {env['cpu']} ({env['cpu_vendor'] or 'vendor unknown'}), {env['torch_threads']} threads; CPU bf16 instructions: {'yes' if bf16_instructions else 'no'}"
          + f"; bf16 faster than fp32 by the precision rule: {'yes' if env['cpu_bf16'] else 'no'}"
          + (f" (forced by LWFT_CPU_BF16={env['cpu_bf16_forced']})" if env["cpu_bf16_forced"] else ""), flush=True)
    loader = ModelLoader(a.model, data_dir=a.data_dir)
    train, dev = loader.load_sst2_dataset(max_train_samples=a.train_samples)
    n = len(train)
    model, tok = loader.load_model()
    levers = [row for precision in (("fp32", "bf16") if bf16_instructions else ("fp32",)) for row in training_levers(loader, train, n, precision)]
    levers += [
        ("predict", "batch 8, dataset order (reference)", lambda: time_prediction(model, dev, tok.pad_token_id, 8, False)),
        ("predict", "batch 32, dataset order", lambda: time_prediction(model, dev, tok.pad_token_id, 32, False)),
        ("predict", "batch 32, length-sorted", lambda: time_prediction(model, dev, tok.pad_token_id, 32, True, cls_only=False)),
        ("predict", "+ last layer computes only [CLS] (library default)", lambda: time_prediction(model, dev, tok.pad_token_id, 32, True)),
        ("predict", "batch 128, length-sorted", lambda: time_prediction(model, dev, tok.pad_token_id, 128, True)),
    ]
    measured = {(kind, lever): [] for kind, lever, _ in levers}
    for kind, lever, run in levers:
        if lever == COMPILED_ROW: print(f"{kind}: filling the compile cache ({run():.1f}/s, not counted)", flush=True)
    for r in range(a.rounds):
        for kind, lever, run in levers:
            measured[kind, lever].append(run()); print(f"round {r + 1}: {kind:<12}{lever:<70}{measured[kind, lever][-1]:>9.1f}/s", flush=True)
    if not bf16_instructions: # bf16 without the instructions: a few steps, once
        bf16_lever = f"  bf16 autocast ({a.bf16_samples} examples, once; this CPU has no bf16 instructions)"
        levers.append(("train", bf16_lever, None))
        measured["train", bf16_lever] = [time_training(loader, train, min(a.bf16_samples, n), precision="bf16")]
    rows = [{"kind": kind, "lever": lever, "samples_per_s": statistics.median(measured[kind, lever]), "rounds": measured[kind, lever]} for kind, lever, _ in levers]
    print(f"\n{'':<12}{'lever':<70}{'median':>10}  rounds")
    for row in rows: print(f"{row['kind']:<12}{row['lever']:<70}{row['samples_per_s']:>9.1f}/s  " + " ".join(f"{v:.1f}" for v in row["rounds"]))
    Path(a.output).parent.mkdir(parents=True, exist_ok=True)
    Path(a.output).write_text(json.dumps({"model": a.model, "machine": env, "train_samples": n, "threads": torch.get_num_threads(), "rounds": a.rounds, "rows": rows}, indent=2))

if __name__ == "__main__": main()
