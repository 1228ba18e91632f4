"""Run by LLaMA-Factory's own Python (not safetymix's): tokenise a dataset_info entry with
``llamafactory.data.get_dataset`` and write what the trainer would see as JSON.

Usage: python llamafactory_load.py DATASET_DIR TOKENIZER_DIR TEMPLATE OUT_JSON NAME [NAME ...]
(one process for every entry: importing LLaMA-Factory is most of the time)
"""

import json
import sys
import tempfile


def load(dataset_dir: str, name: str, tokenizer_dir: str, template: str) -> list[dict]:
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.extras.constants import IGNORE_INDEX
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    args = {
        "model_name_or_path": tokenizer_dir,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "dataset": name,
        "dataset_dir": dataset_dir,
        "template": template,
        "cutoff_len": 1024,
        "output_dir": tempfile.mkdtemp(),
        "overwrite_cache": True,
        "preprocessing_num_workers": None,
        "report_to": "none",
        "use_cpu": True,
    }
    model_args, data_args, training_args, _, _ = get_train_args(args)
    tok_module = load_tokenizer(model_args)
    tokenizer = tok_module["tokenizer"]
    tmpl = get_template_and_fix_tokenizer(tokenizer, data_args)
    module = get_dataset(tmpl, model_args, data_args, training_args, stage="sft", **tok_module)
    rows = []
    for rec in module["train_dataset"]:
        ids, labels = rec["input_ids"], rec["labels"]
        trained = [t for t, lab in zip(ids, labels, strict=True) if lab != IGNORE_INDEX]
        rows.append({"text": tokenizer.decode(ids), "trained": tokenizer.decode(trained)})
    return rows


def main(dataset_dir: str, tokenizer_dir: str, template: str, out: str, *names: str) -> None:
    result = {name: load(dataset_dir, name, tokenizer_dir, template) for name in names}
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, ensure_ascii=False)


if __name__ == "__main__":
    main(*sys.argv[1:])
