"""How well `lwft audit` finds wrong labels: TREC with a seeded 5% of its labels flipped, the flipped rows known.

    python benchmarks/audit_planted.py --trec ../shared/data/trec/train.csv --folds 3 \
        --output benchmarks/results/audit_trec

Reads TREC's train.csv, gives 5% of its rows (seed 0) another class drawn at random (`flip_labels`), writes that copy
to OUTPUT/train_flipped.csv with the flipped rows in OUTPUT/flipped_rows.json, then runs the audit of
`configs/trec_minilm.yaml` on the copy (`--folds`, 5 by default, the README's numbers took 3; one epoch per fold,
`--epochs`). The audit scores the config's training split (80% of the file; validation and test are carved from it),
so the planted rows counted are those that fell in that split. Precision and recall of the top 5% of the ranking
against them go to OUTPUT/planted.json, and the figure with the curve it was drawn from to `--figure` (.png, .csv).
"""
import argparse, json
from pathlib import Path
import numpy as np
import pandas as pd
from lightweight_ft.audit import (audit, audit_summary_text, draw_planted_error_figure, flip_labels,
                                  planted_error_curve, precision_recall_at)

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trec", required=True, help="TREC train.csv (question,category)")
    p.add_argument("--config", default="configs/trec_minilm.yaml")
    p.add_argument("--fraction", type=float, default=0.05); p.add_argument("--seed", type=int, default=0)
    p.add_argument("--folds", type=int, default=5); p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--output", default="benchmarks/results/audit_trec")
    p.add_argument("--figure", default="benchmarks/figures/audit_trec_planted.png")
    return p.parse_args(argv)

def main(argv=None):
    a = parse_args(argv)
    out = Path(a.output); out.mkdir(parents=True, exist_ok=True)
    df = pd.read_csv(a.trec)
    names = sorted(df["category"].unique())
    flipped_ids, planted = flip_labels(df["category"].map(names.index).to_numpy(), a.fraction, len(names), seed=a.seed)
    df.assign(category=[names[i] for i in flipped_ids]).to_csv(out/"train_flipped.csv", index=False)
    (out/"flipped_rows.json").write_text(json.dumps(planted.tolist()))
    summary = audit(a.config, out/"audit", folds=a.folds, overwrite=True,
                    overrides=[f"data.path={out/'train_flipped.csv'}", f"training.epochs={a.epochs}"])
    print(audit_summary_text(summary))
    table = pd.read_csv(out/"audit"/"audit.csv")
    in_train = np.intersect1d(planted, table["row"])
    curve = planted_error_curve(table["row"], in_train)
    at = precision_recall_at(curve, a.fraction)
    result = {"rows_in_file": len(df), "flipped_in_file": len(planted), "train_rows": len(table),
              "flipped_in_train": len(in_train),
              "cut": at, "flagged_by_cleanlab": int(table["flagged"].sum()),
              "flagged_precision": float(table.loc[table["flagged"], "row"].isin(in_train).mean()),
              "flagged_recall": float(table.loc[table["flagged"], "row"].isin(in_train).sum() / len(in_train)),
              "cross_validation": summary["cross_validation"], "seconds": summary["seconds"], "epochs": a.epochs,
              "folds": a.folds}
    (out/"planted.json").write_text(json.dumps(result, indent=2))
    draw_planted_error_figure(curve, a.fraction, a.figure,
                              title=f"TREC, {a.fraction:.0%} of labels flipped: {len(in_train)} planted among "
                                    f"{len(table)} training rows")
    shown = ("train_rows", "flipped_in_train", "cut", "flagged_by_cleanlab", "flagged_precision", "flagged_recall")
    print(json.dumps({k: result[k] for k in shown}, indent=2))

if __name__ == "__main__": main()
