"""Peak training memory and time of LoRA, QLoRA 4-bit and QLoRA 8-bit on the CPU it runs on, each run in its own process.

    nice -n 10 python benchmarks/qlora_memory.py --models minilm bert-base --seeds 0 1 2 --steps 8 --max-length 64

Models: `minilm` (the packaged MiniLM, 22.7M parameters) and `bert-base` (a full-size BERT-base config, 109.5M
parameters, random weights written once into --workdir: memory does not depend on what the weights hold). Each
(model, method, seed) runs in a fresh subprocess, so one run's freed-but-kept memory can't mix into the next one's
peak. A run loads its base (fp32 for LoRA, `load_quantized_model` for QLoRA), then trains `--steps` steps of
`--batch-size` SST-2 sample sentences cut at `--max-length` tokens, r=16 on query+value, through `LoRATrainer` /
`QLoRATrainer` exactly as `lwft` does, in `--precision` (auto: bf16 where the precision rule says bf16 is faster).

Per run it prints, in MB (1e6 bytes), with the process's resident memory (RSS) sampled every 2 ms:
- `train_peak`: what the report's memory column shows, the trainer's peak RSS above the level at the start of training;
- `weights`: the RSS the loaded model adds (after the loader's freed memory is returned), what QLoRA shrinks;
- `load_peak`: the highest RSS while loading (quantising loads the fp32 weights first);
- `process_peak`: the highest RSS above the imports, loading and training together (the larger of `load_peak` and
  `weights` + `train_peak`): what the machine must hold for the model and its training;
- `train_s`: training time; and with `--trace` the peak of every step (`steps`) and, in the last step, the RSS after
  each encoder layer's forward (`layers`), both above the start of training.
The table gives the median over seeds with min-max. Writes `--output` (JSON, one row per run).
"""
import argparse, json, os, subprocess, sys, threading, time
from pathlib import Path

HERE = Path(__file__).resolve()
METHODS = {"lora": None, "qlora4": 4, "qlora8": 8}

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["minilm", "bert-base"], help="`minilm`, `bert-base` or a model folder")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=8, help="training steps per run")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an extra train() setting for every run, e.g. batching=random")
    p.add_argument("--qlora-set", action="append", default=[], metavar="KEY=VALUE",
                   help="a QLoRATrainer argument for the QLoRA runs, e.g. gradient_checkpointing=false")
    p.add_argument("--trace", action="store_true", help="also record every step's peak and the RSS after each layer")
    p.add_argument("--workdir", default="benchmarks/results/qlora_memory", help="where the bert-base folder is written")
    p.add_argument("--output", default="benchmarks/results/qlora_memory.json")
    p.add_argument("--child", help=argparse.SUPPRESS)
    return p.parse_args(argv)

def _value(v):
    try: return json.loads(v)
    except json.JSONDecodeError: return v

def _settings(pairs): return {k: _value(v) for k, v in (s.split("=", 1) for s in pairs)}

def model_folder(name, workdir):
    "The folder of `name`: the packaged MiniLM, a full-size random BERT-base written once under `workdir`, or a folder."
    from lightweight_ft.model_files import resolve_model_path
    if name != "bert-base": return str(resolve_model_path(name))
    folder = Path(workdir)/"bert-base-random"
    if not (folder/"model.safetensors").exists():
        import torch
        from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification
        torch.manual_seed(0)
        BertForSequenceClassification(BertConfig(num_labels=2)).save_pretrained(folder) # bert-base: 12 x 768, vocab 30,522
        AutoTokenizer.from_pretrained(str(resolve_model_path("minilm"))).save_pretrained(folder) # the same uncased vocabulary
    return str(folder)

class RSSSampler:
    "Samples this process's RSS every `interval_s`; `peak()` is the highest since the last `reset()`."
    def __init__(self, interval_s=0.002):
        import psutil
        self.proc, self.interval_s, self.stop = psutil.Process(), interval_s, threading.Event()
        self.rss = self.proc.memory_info().rss; self._max = self.rss
        threading.Thread(target=self._run, daemon=True).start()
    def _run(self):
        while not self.stop.is_set(): self._max = max(self._max, self.proc.memory_info().rss); self.stop.wait(self.interval_s)
    def now(self): return self.proc.memory_info().rss
    def peak(self): return max(self._max, self.now())
    def reset(self): self._max = self.now()

def encoder_layers(model):
    "The encoder's repeated blocks (BERT's `encoder.layer`), found through the PEFT wrapper."
    return next((m for n, m in model.named_modules() if n.endswith("encoder.layer")), [])

def child(a):
    import gc
    s = RSSSampler()
    from lightweight_ft.footprint import _return_freed_memory
    from lightweight_ft.data import read_sst2_sample, tokenize_texts
    from lightweight_ft.lora_trainer import LoRATrainer, training_callbacks
    from lightweight_ft.qlora_trainer import QLoRATrainer
    from lightweight_ft.quantization import load_quantized_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, TrainerCallback
    job = json.loads(a.child)
    path, bits = job["path"], METHODS[job["method"]]
    tok = AutoTokenizer.from_pretrained(path)
    texts, labels, _ = read_sst2_sample("train")
    n = a.steps * a.batch_size
    ds = tokenize_texts(texts[:n], labels[:n], tok, max_length=a.max_length)
    gc.collect(); _return_freed_memory(); s.reset(); imports = s.now()
    if bits is None: model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    else: model = load_quantized_model(path, bits, device="cpu")
    load_peak = s.peak(); gc.collect(); _return_freed_memory(); weights = s.now() - imports
    trainer = LoRATrainer(model, tok) if bits is None else QLoRATrainer(model, tok, **_settings(a.qlora_set))
    steps, layers, start = [], [], [0]
    class Trace(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw): start[0] = s.now(); s.reset()
        def on_step_begin(self, args, state, control, **kw):
            if state.global_step == a.steps - 1: layers.clear()
        def on_step_end(self, args, state, control, **kw): steps.append(round((s.peak() - start[0]) / 1e6, 1)); s.reset()
    hooks = [l.register_forward_hook(lambda *_: layers.append(round((s.now() - start[0]) / 1e6, 1))) for l in encoder_layers(model)] if a.trace else []
    t0 = time.perf_counter()
    with training_callbacks(*([Trace()] if a.trace else [])):
        trainer.train(ds, method="lora" if bits is None else "qlora", precision=a.precision, seed=job["seed"], epochs=1,
                      batch_size=a.batch_size, lora_r=16, lora_alpha=32, target_modules="query_value", progress=False, **_settings(a.set))
    for h in hooks: h.remove()
    r = trainer.train_report
    out = {**job, "train_precision": r["train_precision"], "train_peak": r["peak_memory_bytes"] / 1e6, "weights": weights / 1e6,
           "load_peak": (load_peak - imports) / 1e6, "train_s": r["train_time_s"],
           "wall_s": time.perf_counter() - t0, "footprint": r["footprint_bytes"] / 1e6}
    # training starts from the level after loading (imports + weights, the loader's freed memory returned), so this is its peak above the imports
    out["process_peak"] = max(out["load_peak"], out["weights"] + out["train_peak"])
    if a.trace: out.update(steps=steps, layers=layers)
    print("RESULT " + json.dumps(out))

def run_one(a, job):
    "One run in a fresh interpreter; its RESULT line as a dict (or the error's last lines)."
    argv = [sys.executable, str(HERE), "--child", json.dumps(job), "--steps", str(a.steps), "--batch-size", str(a.batch_size),
            "--max-length", str(a.max_length), "--precision", a.precision, *(["--trace"] if a.trace else [])]
    for s in a.set: argv += ["--set", s]
    for s in a.qlora_set: argv += ["--qlora-set", s]
    p = subprocess.run(argv, capture_output=True, text=True)
    line = next((l for l in p.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None: return {**job, "error": (p.stderr or p.stdout).strip().splitlines()[-3:]}
    return json.loads(line[len("RESULT "):])

def table(rows):
    import numpy as np
    cols = ("weights", "load_peak", "train_peak", "process_peak", "train_s")
    out = ["| model | method | seeds | " + " | ".join(c.replace("_", " ") + (" (s)" if c == "train_s" else " (MB)") for c in cols) + " |",
           "| --- | --- | ---: |" + " ---: |" * len(cols)]
    groups = {}
    for r in rows:
        if "error" not in r: groups.setdefault((r["model"], r["method"]), []).append(r)
    for (model, method), rs in groups.items():
        cells = []
        for c in cols:
            v = np.array([r[c] for r in rs])
            cells.append(f"{np.median(v):,.1f}" + (f" ({v.min():,.1f}–{v.max():,.1f})" if len(v) > 1 else ""))
        out.append(f"| {model} | {method} | {len(rs)} | " + " | ".join(cells) + " |")
    return "\n".join(out)

def main(argv=None):
    a = parse_args(argv)
    if a.child: return child(a)
    from lightweight_ft.environment import environment_report
    env = environment_report("cpu")
    print(f"CPU: {env['cpu']} ({env['cpu_count']} logical CPUs; flags {' '.join(env['cpu_flags']) or 'none of note'}; "
          f"bf16 {'fast' if env['cpu_bf16'] else 'slow'}); torch {env['versions']['torch']}, bitsandbytes {env['versions']['bitsandbytes']}, "
          f"peft {env['versions']['peft']}")
    print(f"{a.steps} steps x {a.batch_size} sentences, max_length {a.max_length}, precision {a.precision}, seeds {a.seeds}"
          + (f", settings {a.set}" if a.set else "") + (f", QLoRA {a.qlora_set}" if a.qlora_set else ""), flush=True)
    rows = []
    for name in a.models:
        path = model_folder(name, a.workdir)
        for seed in a.seeds: # seeds outermost within a model: the machine's drift spreads over every method alike
            for method in a.methods:
                r = run_one(a, {"model": name, "path": path, "method": method, "seed": seed})
                rows.append(r)
                print(json.dumps({k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items() if k != "path"}), flush=True)
    out = Path(a.output); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"environment": env, "args": {k: v for k, v in vars(a).items() if k != "child"}, "runs": rows}, indent=1))
    print(table(rows))

if __name__ == "__main__":
    main()
