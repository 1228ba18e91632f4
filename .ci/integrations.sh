#!/usr/bin/env bash
# The trainers' own venvs for tests/integrations: LLaMA-Factory and Axolotl pin their own
# transformers/TRL, so each gets a venv under .venv-integrations/ (pins in .ci/integrations/).
# torch 2.13.0 is the CPU build on this disk and is installed first; every other package is
# pinned and installed with --no-deps, so pip neither fetches a CUDA torch nor the trainers'
# heavy extras. PyPI's torchvision/torchaudio wheels are built for other torch releases and
# fail to load beside it ("operator torchvision::nms does not exist", "Could not load
# _torchaudio.so"), so neither is installed; LLaMA-Factory 0.9.5 imports torchaudio at module
# level even for text data (llamafactory/data/mm_plugin.py) and gets the stand-in module in
# .ci/stubs/torchaudio, which raises on any use.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${SAFETYMIX_INTEGRATIONS_VENVS:-.venv-integrations}
for name in llamafactory axolotl; do
    venv="$ROOT/$name"
    stamp="$venv/.installed"
    if [ -f "$stamp" ] && cmp -s ".ci/integrations/$name.txt" "$stamp"; then continue; fi
    start=$(date +%s)
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q torch==2.13.0
    "$venv/bin/python" -m pip install -q --no-deps -r ".ci/integrations/$name.txt"
    if [ "$name" = llamafactory ]; then
        site=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
        cp -r .ci/stubs/torchaudio "$site/"
    fi
    cp ".ci/integrations/$name.txt" "$stamp"
    echo "integrations: $name venv installed in $(( $(date +%s) - start )) s" >&2
done
