"""`SentimentPredictor` against `transformers.pipeline("text-classification")` on the SST-2 dev set, in each precision.

    python benchmarks/predict_speed.py --model runs/minilm_lora --data-dir ../shared/data/sst2

`--model` is a training run's folder (an adapter: merged in memory first) or a merged model.
Both sides use the same model object, in the same process, on the same sentences. The pipeline
runs twice: as it is usually called (batch 1) and at the predictor's batch size. Predictions are
fp32 (exact) by default; each lower precision asked for (`--precisions fp32 bf16`) gets its own
rows and its agreement with fp32 on the whole dev set: labels that flip and the largest
probability difference. Prints a table and writes JSON.
"""
import argparse, json, os
from pathlib import Path

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a run folder (adapter) or a merged model folder")
    p.add_argument("--data-dir", default=os.environ.get("LWFT_DATA_DIR"), help="GLUE SST-2 folder (default: $LWFT_DATA_DIR)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--precisions", nargs="+", default=None, choices=["fp32", "bf16", "fp16"],
                   help="default: fp32, and bf16 where the CPU has bf16 instructions or on a CUDA GPU")
    p.add_argument("--output", default="benchmarks/results/predict_speed.json")
    return p.parse_args(argv)

def agreement(model, texts, precision, reference) -> dict:
    "Labels that differ from `reference` (fp32 probabilities) and the largest probability difference."
    import numpy as np
    from lightweight_ft.deploy import SentimentPredictor
    probs = np.array([r["probabilities"] for r in SentimentPredictor(model, precision=precision).predict(texts)])
    return {"labels_flipped": int((probs.argmax(1) != reference.argmax(1)).sum()), "n": len(texts),
            "max_probability_difference": float(np.abs(probs - reference).max())}

def main(argv=None):
    a = parse_args(argv)
    if not a.data_dir: raise SystemExit("benchmark: pass --data-dir or set LWFT_DATA_DIR to a GLUE SST-2 folder")
    import numpy as np, torch
    from lightweight_ft.deploy import SentimentPredictor, benchmark_against_pipeline
    from lightweight_ft.evaluator import cpu_has_fast_bf16, environment_report
    from lightweight_ft.model_loader import read_glue_tsv
    texts = read_glue_tsv(Path(a.data_dir)/"dev.tsv")[0]
    fast_bf16 = torch.cuda.is_available() or cpu_has_fast_bf16()
    precisions = a.precisions or (["fp32", "bf16"] if fast_bf16 else ["fp32"])
    env = environment_report("cuda" if torch.cuda.is_available() else "cpu")
    print(f"{env['cpu']}; bf16 instructions: {env['cpu_bf16']} (flags {', '.join(env['cpu_flags'])}); {env['torch_threads']} threads; GPU: {env['gpu']}")
    reference = np.array([r["probabilities"] for r in SentimentPredictor(a.model, precision="fp32").predict(texts)])
    rows, agreements = [], {}
    for precision in precisions:
        rows += [benchmark_against_pipeline(a.model, texts, batch_size=a.batch_size, pipeline_batch_size=pb, precision=precision,
                                            repeats=a.repeats) for pb in (1, a.batch_size)]
        if precision != "fp32": agreements[precision] = agreement(a.model, texts, precision, reference)
    print(f"{len(texts)} dev sentences, predictor batch {a.batch_size}, {rows[0]['device']}")
    print(f"{'precision':>10}{'pipeline batch':>15}{'predictor/s':>13}{'pipeline/s':>12}{'ratio':>8}")
    for r in rows: print(f"{r['precision']:>10}{r['pipeline_batch_size']:>15}{r['predictor_per_s']:>13.1f}{r['pipeline_per_s']:>12.1f}{r['speedup']:>7.2f}x")
    for p, g in agreements.items():
        print(f"{p} against fp32: {g['labels_flipped']} of {g['n']} labels differ; largest probability difference {g['max_probability_difference']:.2e}")
    Path(a.output).parent.mkdir(parents=True, exist_ok=True)
    Path(a.output).write_text(json.dumps({"model": a.model, "environment": env, "rows": rows, "agreement_with_fp32": agreements}, indent=2))
    return rows, agreements

if __name__ == "__main__": main()
