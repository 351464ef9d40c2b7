"""The effect of each speed lever on LoRA training and prediction, one lever at a time, in one run.

    python benchmarks/levers.py --model minilm --train-samples 2000 --data-dir ../shared/data/sst2

Training rows start from the reference's data path (random batches padded by the tokenizer's
`pad`) and switch on one lever at a time (packing the random batches; then length-bucketed batches
in its place, which change what a batch holds); prediction rows compare unsorted small batches with
length-sorted ones, then drop the last layer's work for every token but [CLS]. bf16 is timed on a few steps only, because on CPUs without bf16
instructions it is many times slower. Every lever is timed once per round, the rounds
interleaved, and the table shows the median: on a shared or virtual machine the speed of the
cores drifts, and interleaving keeps the drift from favouring one lever. Writes JSON.
"""
import statistics
import argparse, json, os, time
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

def time_training(loader, train, n, collator=None, **kw):
    "Train samples/s of one LoRA run (r=8 on query+value) with `LoRATrainer`, its collator optionally replaced."
    import lightweight_ft.lora_trainer as lt
    model, tok = loader.load_model()
    original = lt.PadCollator
    if collator is not None: lt.PadCollator = lambda pad_id: collator(tok)
    try:
        t = lt.LoRATrainer(model, tok)
        t.train(train.select(range(n)), method="lora", lora_r=8, lora_alpha=16, target_modules="query_value", learning_rate=5e-4,
                seed=0, progress=False, **kw)
    finally: lt.PadCollator = original
    return t.train_report["train_samples_per_s"]

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
    from lightweight_ft.core import cpu_has_fast_bf16
    loader = ModelLoader(a.model, data_dir=a.data_dir)
    train, dev = loader.load_sst2_dataset(max_train_samples=a.train_samples)
    n = len(train)
    model, tok = loader.load_model()
    reference_path = dict(collator=TokenizerPadCollator, batching="random", fast_dropout=False, cls_only=False)
    levers = [
        ("train", "random batches, tokenizer.pad collator, torch dropout (reference)", lambda: time_training(loader, train, n, **reference_path)),
        ("train", "+ tensor padding collator", lambda: time_training(loader, train, n, batching="random", fast_dropout=False, cls_only=False)),
        ("train", "+ packed sentences (same batches, no padding)", lambda: time_training(loader, train, n, fast_dropout=False, cls_only=False)),
        ("train", "+ FastDropout masks", lambda: time_training(loader, train, n, cls_only=False)),
        ("train", "+ last layer computes only [CLS] (library default)", lambda: time_training(loader, train, n)),
        ("train", "  length-bucketed batches instead of packed ones", lambda: time_training(loader, train, n, batching="length_buckets")),
        ("train", "  batch size 16 instead of 32", lambda: time_training(loader, train, n, batch_size=16)),
        ("train", "  batch size 64 instead of 32", lambda: time_training(loader, train, n, batch_size=64)),
        ("predict", "batch 8, dataset order (reference)", lambda: time_prediction(model, dev, tok.pad_token_id, 8, False)),
        ("predict", "batch 32, dataset order", lambda: time_prediction(model, dev, tok.pad_token_id, 32, False)),
        ("predict", "batch 32, length-sorted", lambda: time_prediction(model, dev, tok.pad_token_id, 32, True, cls_only=False)),
        ("predict", "+ last layer computes only [CLS] (library default)", lambda: time_prediction(model, dev, tok.pad_token_id, 32, True)),
        ("predict", "batch 128, length-sorted", lambda: time_prediction(model, dev, tok.pad_token_id, 128, True)),
    ]
    measured = {(kind, lever): [] for kind, lever, _ in levers}
    for r in range(a.rounds):
        for kind, lever, run in levers:
            measured[kind, lever].append(run()); print(f"round {r + 1}: {kind:<8}{lever:<70}{measured[kind, lever][-1]:>9.1f}/s", flush=True)
    bf16_lever = f"  bf16 autocast ({a.bf16_samples} examples, once; CPU bf16 instructions: {cpu_has_fast_bf16()})"
    levers.append(("train", bf16_lever, None))
    measured["train", bf16_lever] = [time_training(loader, train, min(a.bf16_samples, n), precision="bf16")]
    rows = [{"kind": kind, "lever": lever, "samples_per_s": statistics.median(measured[kind, lever]), "rounds": measured[kind, lever]} for kind, lever, _ in levers]
    print(f"\n{'':<8}{'lever':<70}{'median':>10}  rounds")
    for row in rows: print(f"{row['kind']:<8}{row['lever']:<70}{row['samples_per_s']:>9.1f}/s  " + " ".join(f"{v:.1f}" for v in row["rounds"]))
    Path(a.output).parent.mkdir(parents=True, exist_ok=True)
    Path(a.output).write_text(json.dumps({"model": a.model, "train_samples": n, "threads": torch.get_num_threads(), "rounds": a.rounds, "rows": rows}, indent=2))

if __name__ == "__main__": main()
