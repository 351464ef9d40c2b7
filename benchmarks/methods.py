"""The PEFT family on the packaged MiniLM and SST-2: every adapter, three seeds, the same steps, each at its own default rate.

    nice -n 10 python benchmarks/methods.py --data-dir ../shared/data/sst2 --train-samples 4000 --output benchmarks/results/methods

Each (adapter, seed) is one `run_experiment` run folder under OUTPUT (r=8, alpha 16, query+value, one epoch of
TRAIN_SAMPLES sentences, batch 32, evaluated on the GLUE dev set), so the same steps for every adapter; its learning
rate is `DEFAULT_ADAPTER_LEARNING_RATES` (see `02a_adapters` for why each). Finished folders are kept: a stopped
benchmark resumes. The table (OUTPUT/methods.md and .csv) gives, per adapter: accuracy over the seeds with the 95%
bootstrap interval of the pooled seeds, trainable parameters (adapter and head apart; AdaLoRA at its final budget),
footprint, train samples/s, and against LoRA r=8: the accuracy difference, McNemar's p (first seeds) and the
non-inferiority test of `cheapest_not_worse` (margin 0.5 points). The prompt methods can't pack and train on padded
batches (`batching_used`). Runs outside CI: about 12 x 3 x (TRAIN_SAMPLES / 100) s on two CPU cores.
"""
import argparse, json, os
from pathlib import Path
import numpy as np
import pandas as pd

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="minilm")
    p.add_argument("--data-dir", default=os.environ.get("LWFT_DATA_DIR"), help="GLUE SST-2 folder (default $LWFT_DATA_DIR; none: the packaged sample)")
    p.add_argument("--train-samples", type=int, default=4000)
    p.add_argument("--eval-samples", type=int, default=None, help="dev sentences scored (default: all 872)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--adapters", nargs="+", default=None, help="default: every adapter of ADAPTERS")
    p.add_argument("--output", default="benchmarks/results/methods")
    return p.parse_args(argv)

def base_config(a):
    from lightweight_ft.config_manager import ExperimentConfig
    data = {"source": "glue_dir", "data_dir": a.data_dir} if a.data_dir else {"source": "sample"}
    return ExperimentConfig.from_dict({"name": "methods", "model": {"name_or_path": a.model, "max_length": 64},
                                       "data": {**data, "max_train_samples": a.train_samples, "max_eval_samples": a.eval_samples},
                                       "lora": {"r": 8, "alpha": 16, "target_modules": "query_value"},
                                       "training": {"epochs": 1, "batch_size": 32, "logging_steps": 25}})

def run_all(a):
    from lightweight_ft.config_manager import ADAPTERS
    from lightweight_ft.run_analysis import run_experiment
    out, folders = Path(a.output), {}
    for adapter in a.adapters or ADAPTERS:
        for seed in a.seeds:
            folder = out/f"{adapter}_seed{seed}"
            if not (folder/"metrics.json").exists():
                run_experiment(base_config(a), folder, overrides=[f"lora.adapter={adapter}", f"training.seed={seed}", f"name={adapter}"], progress=False)
            folders.setdefault(adapter, []).append(folder)
    return folders

def table(folders, margin=0.005):
    from lightweight_ft.selection import cheapest_not_worse
    from lightweight_ft.metrics import bootstrap_intervals, compare_predictions
    from lightweight_ft.runs import load_run
    runs = {k: [load_run(f) for f in v] for k, v in folders.items()}
    pick = cheapest_not_worse([r for rs in runs.values() for r in rs], margin=margin)
    ref = runs.get("lora")
    rows = []
    for adapter, rs in runs.items():
        m = [r.metrics for r in rs]
        labels, _ = rs[0].labels_and_probs()
        pooled = np.concatenate([r.labels_and_probs()[1] for r in rs])
        lo, hi = bootstrap_intervals(np.tile(labels, len(rs)), pooled, metrics=("accuracy",))["accuracy"]
        row = {"adapter": adapter, "seeds": len(rs), "accuracy": np.mean([x["accuracy"] for x in m]), "acc_std": np.std([x["accuracy"] for x in m], ddof=1) if len(rs) > 1 else np.nan,
               "acc_ci_low": lo, "acc_ci_high": hi, "learning_rate": m[0].get("learning_rate"),
               "trainable_params": m[0].get("trainable_params_at_budget", m[0].get("trainable_params")),
               "adapter_params": m[0].get("adapter_params_at_budget", m[0].get("adapter_params")), "head_params": m[0].get("head_params"),
               "footprint_mb": m[0].get("footprint_bytes", 0) / 1e6, "train_samples_per_s": np.mean([x["train_samples_per_s"] for x in m]),
               "batching_used": m[0].get("batching_used")}
        if ref is not None and adapter != "lora":
            c = compare_predictions(labels, {adapter: rs[0].labels_and_probs()[1], "lora": ref[0].labels_and_probs()[1]}).iloc[0]
            row.update(diff_vs_lora=row["accuracy"] - np.mean([r.metrics["accuracy"] for r in ref]), mcnemar_p_vs_lora=c["p_value"])
        rows.append(row)
    return pd.DataFrame(rows), pick

def main(argv=None):
    a = parse_args(argv)
    df, pick = table(run_all(a))
    out = Path(a.output); out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out/"methods.csv", index=False)
    from lightweight_ft.report import _markdown_table
    text = _markdown_table(df.round(4)) + f"\n\nbest: {pick['best']['label']}; cheapest not worse (margin 0.5 points): {pick['pick']['label']}\n"
    (out/"methods.md").write_text(text); print(text)
    (out/"pick.json").write_text(json.dumps({k: pick[k] for k in ("best", "pick", "cost", "margin")}, indent=1, default=str))

if __name__ == "__main__": main()
