"""Our LoRA training and prediction against the standard Trainer + PEFT recipe, same data, model and machine, in one run.

    python benchmarks/train_speed.py --model minilm --train-samples 8000 --data-dir ../shared/data/sst2

The reference is what a practitioner would write by hand: AutoModelForSequenceClassification +
get_peft_model(LoraConfig(SEQ_CLS, r=8, alpha=16, dropout=0.1, target_modules=[query, value])) +
Trainer with DataCollatorWithPadding, batch 32, max_length 128, Trainer defaults otherwise (the
learning rate is set to the same value for both). Ours is `LoRATrainer` with the same LoRA
settings, learning rate, batch size and epochs. Prints a table and writes JSON.

With one seed, ours runs twice, before and after the reference, and the ratios use the mean of
the two: on a shared or virtual machine the speed of the cores drifts during a run, and the two
runs show by how much. The same seed gives the same accuracy both times. With `--seeds`, the two
sides alternate seed by seed, speeds are the mean of all runs and accuracy the mean over seeds:
one seed against one seed differs by about a point from seed noise alone at 8,000 examples.

`--ours-set compile=on` trains ours through the compiled step (`training.compile`, inductor's
caches in `$LWFT_CACHE_DIR`): its samples/s count the compile as training time, and each seed's
line says whether the cache was cold or warm, what the compile took and the speed past it. Run it
once on an empty cache folder for the cold figure; the runs after it start warm.

The bare forward + backward line times the model alone (no data, no dropout, no optimiser) on
32 x 12-token batches, a yardstick for comparing machines.

Each side trains at its best precision on this machine unless told otherwise: where the precision
rule says bf16 is faster (a CPU with AMX, an AMD CPU with AVX512-BF16, a GPU), the recipe with
`bf16=True` and ours with `precision="auto"` (bf16 there); on other CPUs both in fp32 (an Intel CPU
with AVX512-BF16 but no AMX ran bf16's products at half fp32's rate). `--both-precisions` also runs
both sides in the other precision, seed by seed. The first lines say which CPU ran it, whether
it has bf16 instructions and whether the precision rule finds bf16 the faster there.

The compute floor is what no implementation in that precision can beat on this machine: the
multiply-adds of the encoder's linear layers for the real (unpadded) tokens, at the matmul rate
measured here in that precision, counting in the last layer only what the [CLS] output needs. Training counts the forward pass and the input gradients (the frozen weights need no
weight gradients); prediction counts the forward pass.
"""
import argparse, json, os, platform, time
from pathlib import Path
import numpy as np
import torch

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="minilm", help="model name or folder (default: the packaged MiniLM)")
    p.add_argument("--data-dir", default=os.environ.get("LWFT_DATA_DIR"), help="GLUE SST-2 folder (default: $LWFT_DATA_DIR)")
    p.add_argument("--train-samples", type=int, default=8000, help="training subset size (0: the whole split)")
    p.add_argument("--eval-samples", type=int, default=None, help="dev examples (default: all 872)")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="several training seeds: both sides run each, alternating; accuracy is the mean")
    p.add_argument("--skip-reference", action="store_true", help="time only our trainer")
    p.add_argument("--reference-only", action="store_true", help="run only the reference recipe")
    p.add_argument("--once", action="store_true", help="run ours once, not before and after the reference")
    p.add_argument("--ours-set", action="append", default=[], metavar="KEY=VALUE",
                   help="an extra LoRATrainer.train argument for our side, e.g. batching=length_buckets (repeatable)")
    p.add_argument("--ours-attention", choices=["sdpa", "eager"], help="our side's attention implementation (default: the model's, sdpa)")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                   help="both sides' precision; auto: each at its best here (bf16 where the precision rule says bf16 is faster)")
    p.add_argument("--both-precisions", action="store_true", help="also run both sides in the other precision (where the CPU has bf16 instructions, or on a GPU)")
    p.add_argument("--output", default="benchmarks/results/train_speed.json")
    return p.parse_args(argv)

def run_reference(a, model_path, train, dev, precision="fp32"):
    "The hand-written recipe: tokenizer.pad collator, random batches, Trainer defaults; `bf16=True` (or `fp16=True`) for mixed precision."
    from datasets import Dataset
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments
    from lightweight_ft.footprint import PeakMemory
    tok = AutoTokenizer.from_pretrained(model_path)
    def enc(ds):
        d = Dataset.from_dict({"sentence": ds["sentence"], "label": ds["labels"]})
        return d.map(lambda b: tok(b["sentence"], truncation=True, max_length=128), batched=True)
    tr, ev = enc(train), enc(dev)
    torch.manual_seed(a.seed)
    model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=2)
    model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=8, lora_alpha=16, lora_dropout=0.1, target_modules=["query", "value"]))
    args = TrainingArguments(output_dir="/tmp/lwft_reference", per_device_train_batch_size=32, num_train_epochs=a.epochs,
                             learning_rate=a.learning_rate, seed=a.seed, report_to=[], save_strategy="no", disable_tqdm=True, logging_strategy="no",
                             bf16=precision == "bf16", fp16=precision == "fp16", use_cpu=not torch.cuda.is_available())
    trainer = Trainer(model=model, args=args, train_dataset=tr, eval_dataset=ev, data_collator=DataCollatorWithPadding(tok))
    with PeakMemory(bench_device()) as mem: # the GPU's allocator where there is one, as ours reports
        t0 = time.perf_counter(); trainer.train(); train_s = time.perf_counter() - t0
    t0 = time.perf_counter(); pred = trainer.predict(ev); eval_s = time.perf_counter() - t0
    acc = float((pred.predictions.argmax(-1) == np.array(dev["labels"])).mean())
    return {"train_samples_per_s": len(train) * a.epochs / train_s, "train_time_s": train_s, "predictions_per_s": len(dev) / eval_s,
            "peak_memory_bytes": mem.peak_bytes, "dev_accuracy": acc, "train_precision": precision}

def extra_train_args(pairs) -> dict:
    import yaml
    bad = [p for p in pairs if "=" not in p]
    if bad: raise SystemExit(f"benchmark: --ours-set takes KEY=VALUE, got {bad[0]!r}")
    return {k: yaml.safe_load(v) for k, v in (p.split("=", 1) for p in pairs)}

def run_ours(a, loader, train, dev, precision="auto"):
    from lightweight_ft.lora_trainer import LoRATrainer
    model, tok = loader.load_model()
    if a.ours_attention: model.set_attn_implementation(a.ours_attention)
    t = LoRATrainer(model, tok)
    model = t.train(train, dev, method="lora", lora_r=8, lora_alpha=16, lora_dropout=0.1, target_modules="query_value",
                    epochs=a.epochs, learning_rate=a.learning_rate, batch_size=32, seed=a.seed, progress=False, **{"precision": precision, **extra_train_args(a.ours_set)})
    r = t.evaluate(model, dev)
    rep, graphs = t.train_report, t.trainer.step_graphs
    from lightweight_ft.speedups import PackedStepCompiled
    graphs = None if isinstance(graphs, PackedStepCompiled) else graphs # CUDA graphs; a compiled CPU step is reported below
    return {"train_samples_per_s": rep["train_samples_per_s"], "train_time_s": rep["train_time_s"], "predictions_per_s": r["predictions_per_s"],
            "peak_memory_bytes": rep["peak_memory_bytes"], "dev_accuracy": r["accuracy"], "train_precision": rep["train_precision"],
            "cuda_graph_rows": sorted(rows for rows, _ in graphs.graphs) if graphs else None, "cuda_graph_failure": graphs.failure if graphs else None,
            "compiled": rep.get("compiled", False), "compile_s": rep.get("compile_s", 0.0), "compile_cache": rep.get("cache"),
            # samples/s past the compile: what the steps themselves ran at
            "train_samples_per_s_past_compile": rep["train_samples"] / max(rep["train_time_s"] - rep.get("compile_s", 0.0), 1e-9)}

def bench_device() -> str: return "cuda" if torch.cuda.is_available() else "cpu"
def sync():
    if torch.cuda.is_available(): torch.cuda.synchronize()

def matmul_gflops(seconds: float = 1.0, dtype=torch.float32) -> float:
    "This machine's matmul rate in `dtype` on a LoRA-sized product (512 tokens x 384 x 1536), on the GPU where there is one."
    a, b = torch.randn(512, 384, dtype=dtype, device=bench_device()), torch.randn(384, 1536, dtype=dtype, device=bench_device())
    for _ in range(5): a @ b
    sync(); n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(10): a @ b
        n += 10; sync()
    return 2 * 512 * 384 * 1536 * n / (time.perf_counter() - t0) / 1e9

def compute_floor(model_path, train, dev, gflops: float) -> dict:
    """The most samples/s any fp32 implementation can reach: linear-layer FLOPs of the real tokens at `gflops`.

    The head reads only [CLS], so in the last layer only the keys and values are needed for every token."""
    from transformers import AutoConfig, AutoModelForSequenceClassification
    cfg = AutoConfig.from_pretrained(model_path, num_labels=2)
    with torch.device("meta"): model = AutoModelForSequenceClassification.from_config(cfg)
    linears = {n: 2 * m.in_features * m.out_features for n, m in model.named_modules()
               if isinstance(m, torch.nn.Linear) and not any(h in n for h in ("pooler", "classifier"))}
    last = f".{cfg.num_hidden_layers - 1}."
    last_layer = {n: f for n, f in linears.items() if last in n}
    last_keys_values = sum(f for n, f in last_layer.items() if n.endswith(("key", "value", "k_lin", "v_lin")))
    once = sum(last_layer.values()) - last_keys_values  # the last layer's work for the [CLS] position alone
    every_token = sum(linears.values()) - once
    train_tokens = sum(map(len, train["input_ids"])) / len(train)
    dev_tokens = sum(map(len, dev["input_ids"])) / len(dev)
    train_flops, dev_flops = every_token * train_tokens + once, every_token * dev_tokens + once
    return {"matmul_gflops": gflops, "linear_mflop_per_token": sum(linears.values()) / 1e6, "train_tokens_per_sample": train_tokens,
            "dev_tokens_per_sample": dev_tokens, "train_samples_per_s": gflops * 1e9 / (2 * train_flops),
            "predictions_per_s": gflops * 1e9 / dev_flops}

def plain_step_rate(model_path, batch: int = 32, tokens: int = 12, steps: int = 15) -> float:
    "Samples/s of bare forward and backward passes (LoRA r=8 on query+value, no dropout, no data loading) on `batch` x `tokens` ids."
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=2),
                           LoraConfig(task_type=TaskType.SEQ_CLS, r=8, lora_alpha=16, target_modules=["query", "value"])).eval().to(bench_device())
    ids, labels = torch.randint(1000, 20000, (batch, tokens), device=bench_device()), torch.randint(0, 2, (batch,), device=bench_device())
    def step(): model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss.backward()
    for _ in range(3): step() # on a GPU this also pays the process's CUDA start-up before either side is timed
    sync(); t0 = time.perf_counter()
    for _ in range(steps): step()
    sync()
    return batch * steps / (time.perf_counter() - t0)

def mean_of(runs, key): return float(np.mean([r[key] for r in runs]))

def machine_report() -> dict:
    "Which machine ran the benchmark: the CPU, its bf16 instructions (and whether the answer was forced), threads, GPU."
    from lightweight_ft.precision import CPU_BF16_ENV, cpu_flags, cpu_has_bf16_instructions, cpu_has_fast_bf16
    from lightweight_ft.environment import environment_report
    env = environment_report("cuda" if torch.cuda.is_available() else "cpu")
    return {"cpu": env.get("cpu") or platform.processor() or platform.machine(), "cpu_vendor": env.get("cpu_vendor"),
            "cpu_bf16_instructions": cpu_has_bf16_instructions(), "cpu_bf16_fast": cpu_has_fast_bf16(),
            "cpu_bf16_flags": sorted(f for f in cpu_flags() if "bf16" in f), "cpu_bf16_forced": os.environ.get(CPU_BF16_ENV) or None,
            "threads": torch.get_num_threads(), "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None}

def precisions(a) -> list[str]:
    "The precision both sides run in first (each side's best here for `auto`), then the other one with `--both-precisions`."
    from lightweight_ft.precision import cpu_has_bf16_instructions, resolve_precision
    device = "cuda" if torch.cuda.is_available() else "cpu"
    first = resolve_precision(a.precision, device)
    if not a.both_precisions: return [first]
    # where bf16 instructions exist, slow or fast, both sides are worth timing in both precisions
    if not (device == "cuda" or cpu_has_bf16_instructions()):
        print("--both-precisions: this CPU has no bf16 instructions, where bf16 runs many times slower: fp32 only", flush=True)
        return [first]
    return [first, "fp32" if first != "fp32" else "bf16"]

def summary(runs) -> dict:
    keys = ("train_samples_per_s", "train_time_s", "predictions_per_s", "peak_memory_bytes")
    per_seed = {r["seed"]: r["dev_accuracy"] for r in runs}
    return {**{k: mean_of(runs, k) for k in keys}, "dev_accuracy": float(np.mean(list(per_seed.values()))),
            "dev_accuracy_spread": float(np.ptp(list(per_seed.values()))), "dev_accuracy_per_seed": per_seed,
            "train_precision": runs[0]["train_precision"], "runs": runs}

def main(argv=None):
    a = parse_args(argv)
    if not a.data_dir: raise SystemExit("benchmark: pass --data-dir or set LWFT_DATA_DIR to a GLUE SST-2 folder")
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    from lightweight_ft.model_loader import ModelLoader
    machine = machine_report()
    print(f"machine: {machine['cpu']} ({machine['cpu_vendor'] or 'vendor unknown'}), {machine['threads']} threads; CPU bf16 instructions: {'yes' if machine['cpu_bf16_instructions'] else 'no'}"
          + (f" ({', '.join(machine['cpu_bf16_flags'])})" if machine["cpu_bf16_flags"] else "")
          + f"; bf16 faster than fp32 by the precision rule: {'yes' if machine['cpu_bf16_fast'] else 'no'}"
          + (f", forced by LWFT_CPU_BF16={machine['cpu_bf16_forced']}" if machine["cpu_bf16_forced"] else "")
          + (f"; GPU: {machine['cuda']}" if machine["cuda"] else ""), flush=True)
    loader = ModelLoader(a.model, data_dir=a.data_dir, seed=a.seed)
    train, dev = loader.load_sst2_dataset(max_train_samples=a.train_samples or None, max_eval_samples=a.eval_samples)
    precs = precisions(a)
    print("precisions: " + ", then ".join(precs), flush=True)
    rate_dtype = torch.bfloat16 if precs[0] == "bf16" else torch.float32
    gflops_before, plain = matmul_gflops(dtype=rate_dtype), plain_step_rate(loader.model_path)
    seeds = a.seeds or [a.seed]
    runs = {}  # ("ours" | "reference", precision) -> runs
    # Alternating the two sides seed by seed keeps the drift of the cores from favouring either.
    for seed in seeds:
        a.seed = seed
        for prec in precs:
            if not a.reference_only: runs.setdefault(("ours", prec), []).append({"seed": seed, **run_ours(a, loader, train, dev, prec)})
            if not a.skip_reference: runs.setdefault(("reference", prec), []).append({"seed": seed, **run_reference(a, loader.model_path, train, dev, prec)})
            print(f"seed {seed}, {prec}: " + ", ".join(f"{side} {runs[side, prec][-1]['train_samples_per_s']:.1f} train/s, accuracy {runs[side, prec][-1]['dev_accuracy']:.4f}"
                                                 for side in ("ours", "reference") if (side, prec) in runs)
                  + (f"; ours' CUDA graphs: rows {runs['ours', prec][-1]['cuda_graph_rows']}" if ("ours", prec) in runs and runs["ours", prec][-1]["cuda_graph_rows"] else "")
                  + (f"; ours compiled, {runs['ours', prec][-1]['compile_cache']} cache, compile {runs['ours', prec][-1]['compile_s']:.1f} s, "
                     f"{runs['ours', prec][-1]['train_samples_per_s_past_compile']:.1f} train/s past it"
                     if ("ours", prec) in runs and runs["ours", prec][-1]["compiled"] else ""), flush=True)
    if len(seeds) == 1 and not a.once and ("reference", precs[0]) in runs and ("ours", precs[0]) in runs:
        runs["ours", precs[0]].append({"seed": seeds[0], **run_ours(a, loader, train, dev, precs[0])})
    floor = compute_floor(loader.model_path, train, dev, (gflops_before + matmul_gflops(dtype=rate_dtype)) / 2)
    def name(side, prec): return side if prec == precs[0] else f"{side}_{prec}"
    results = {name(side, prec): summary(r) for (side, prec), r in runs.items()}
    out = {"model": a.model, "ours_set": extra_train_args(a.ours_set), "train_samples": len(train), "eval_samples": len(dev), "epochs": a.epochs,
           "learning_rate": a.learning_rate, "seeds": seeds, "precisions": precs,
           "machine": {**machine, "plain_step_samples_per_s": plain}, "results": results, "compute_floor": {**floor, "precision": precs[0]}}
    print(f"\n{'':<30}{'train/s':>10}{'predict/s':>11}{'peak MB':>10}{'dev acc':>9}")
    rows = [(f"{name(side, prec)}, seed {r['seed']}", r) for (side, prec), rs in runs.items() for r in rs]
    rows += [(f"{k}, mean", v) for k, v in results.items() if len(v["runs"]) > 1]
    for k, r in rows:
        print(f"{k:<30}{r['train_samples_per_s']:>10.1f}{r['predictions_per_s']:>11.1f}{r['peak_memory_bytes']/2**20:>10.0f}{r['dev_accuracy']:>9.4f}")
    print(f"{precs[0] + ' compute floor':<30}{floor['train_samples_per_s']:>10.1f}{floor['predictions_per_s']:>11.1f}"
          f"   ({floor['matmul_gflops']:.0f} GFLOP/s in {precs[0]}; {floor['train_tokens_per_sample']:.1f} train, {floor['dev_tokens_per_sample']:.1f} dev tokens/sentence)")
    print(f"bare forward + backward, 32 x 12 tokens, no dropout, fp32: {plain:.1f} samples/s on this machine" + (" (GPU)" if machine["cuda"] else ""))
    out["ratios"] = {}
    for prec in precs:
        o, ref = results.get(name("ours", prec)), results.get(name("reference", prec))
        if o is None or ref is None: continue
        ratio = {"train_samples_per_s": o["train_samples_per_s"] / ref["train_samples_per_s"],
                 "predictions_per_s": o["predictions_per_s"] / ref["predictions_per_s"],
                 "dev_accuracy_points": 100 * (o["dev_accuracy"] - ref["dev_accuracy"])}
        out["ratios"][prec] = ratio
        print(f"ratio ours/reference, both in {prec}: train {ratio['train_samples_per_s']:.2f}x, predict {ratio['predictions_per_s']:.2f}x, "
              f"accuracy {ratio['dev_accuracy_points']:+.2f} points" + (f" (mean of {len(seeds)} seeds; spread ours {100 * o['dev_accuracy_spread']:.2f}, "
                                                                         f"reference {100 * ref['dev_accuracy_spread']:.2f} points)" if len(seeds) > 1 else ""))
    if precs[0] in out["ratios"]:
        ref = results["reference"]
        out["ratios"]["floor_over_reference_train"] = floor["train_samples_per_s"] / ref["train_samples_per_s"]
        out["ratios"]["floor_over_reference_predict"] = floor["predictions_per_s"] / ref["predictions_per_s"]
        print(f"most any {precs[0]} code could reach over the reference here: train {out['ratios']['floor_over_reference_train']:.2f}x, "
              f"predict {out['ratios']['floor_over_reference_predict']:.2f}x")
    Path(a.output).parent.mkdir(parents=True, exist_ok=True)
    Path(a.output).write_text(json.dumps(out, indent=2))
    return out

if __name__ == "__main__": main()
