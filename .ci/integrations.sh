#!/usr/bin/env bash
# The trainers' own venvs for tests/integrations: LLaMA-Factory and Axolotl pin their own
# transformers/TRL, so each gets a venv under .venv-integrations/ (pins in .ci/integrations/).
# torch 2.13.0 is the CPU build on this disk; pip is told to keep it (-c), so no CUDA build
# is fetched. PyPI's torchvision/torchaudio wheels are built for other torch releases and
# fail to load beside it ("operator torchvision::nms does not exist", "Could not load
# _torchaudio.so"): they are removed, and LLaMA-Factory, which imports torchaudio at module
# level even for text data, gets the stand-in in .ci/stubs/torchaudio.
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
    "$venv/bin/python" -m pip install -q -c <(echo torch==2.13.0) -r ".ci/integrations/$name.txt"
    "$venv/bin/python" -m pip uninstall -q -y torchvision torchaudio || true
    if [ "$name" = llamafactory ]; then
        site=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
        cp -r .ci/stubs/torchaudio "$site/"
    fi
    cp ".ci/integrations/$name.txt" "$stamp"
    echo "integrations: $name venv installed in $(( $(date +%s) - start )) s" >&2
done
