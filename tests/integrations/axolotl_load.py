"""Run by Axolotl's own Python (not safetymix's): prepare the datasets of a config with
Axolotl's loader (``load_cfg`` + ``prepare_datasets``, what ``axolotl preprocess`` runs) and
write what the trainer would see as JSON.

Usage: python axolotl_load.py MODEL_DIR WORK_DIR OUT_JSON FRAGMENT_YAML [FRAGMENT_YAML ...]
(one process for every fragment: importing Axolotl is most of the time)
"""

import json
import os
import sys


def load(fragment: str, model_dir: str, work: str) -> list[dict]:
    import yaml

    cfg = yaml.safe_load(open(fragment, encoding="utf-8"))
    cfg.update(
        {
            "base_model": model_dir,
            "sequence_len": 1024,
            "micro_batch_size": 1,
            "num_epochs": 1,
            "learning_rate": 1e-4,
            "optimizer": "adamw_torch",
            "output_dir": os.path.join(work, "out"),
            "dataset_prepared_path": os.path.join(work, "prepared"),
            "val_set_size": 0,
            "sample_packing": False,
            "train_on_inputs": False,
            "special_tokens": {"pad_token": "<pad>"},
        }
    )
    path = os.path.join(work, "axolotl.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(cfg, fh)
    from axolotl.cli.config import load_cfg
    from axolotl.loaders import load_tokenizer
    from axolotl.utils.data import prepare_datasets

    full = load_cfg(path)
    tokenizer = load_tokenizer(full)
    train, _, _, _ = prepare_datasets(full, tokenizer)
    rows = []
    for rec in train:
        ids, labels = rec["input_ids"], rec["labels"]
        trained = [t for t, lab in zip(ids, labels, strict=True) if lab != -100]
        rows.append({"text": tokenizer.decode(ids), "trained": tokenizer.decode(trained)})
    return rows


def main(model_dir: str, work: str, out: str, *fragments: str) -> None:
    result = {}
    for i, fragment in enumerate(fragments):
        sub = os.path.join(work, str(i))
        os.makedirs(sub)
        result[fragment] = load(fragment, model_dir, sub)
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, ensure_ascii=False)


if __name__ == "__main__":
    main(*sys.argv[1:])
