#!/usr/bin/env bash
# Regenerate a published results file from scratch: run its benchmarks, then merge
# them into benchmarks/published/ (what the docs' tables and figures are drawn from).
#
#   bash benchmarks/regenerate.sh mnist      # MNIST, every table: about 2 hours on 2 CPU cores
#   bash benchmarks/regenerate.sh digits     # scikit-learn's 8 x 8 digits: about 40 minutes
#   bash benchmarks/regenerate.sh gist       # DeepQuan on a CIFAR-10-GIST validation split: 45 min
#   bash benchmarks/regenerate.sh gate       # DeepQuan's fine-tuning gate: 5 validation splits, 5 query sets: 2 hours
#   bash benchmarks/regenerate.sh ceiling    # label-free float ceilings on the 5 gate splits: 5 min
#   bash benchmarks/regenerate.sh unseen     # CIFAR-10, unseen classes: about 1 hour
#
# The raw outputs go to benchmarks/results/ (ignored by git): NAME.json (every figure
# and what produced it), NAME.txt (the table), NAME.log (progress). A run whose
# NAME.json is already complete for the same command is not run again (delete the
# file, or set FORCE=1, to rerun it), so a regeneration stopped half-way resumes where
# it stopped. The check compares commands, not code: after changing skhash, rerun
# with FORCE=1 (or delete the raw files the change affects).
# DATA names the folder that holds mnist/ and cifar10-jpeg/ (default ../shared/data),
# PYTHON the interpreter with skhash installed (default: python on the PATH), NOTES
# a note on how the runs went (shown beside the tables). Extra arguments go to every
# `skhash benchmark` run (e.g. --device cuda). The CIFAR-10 tables of the other
# protocols take hours each on a CPU: their commands are on the benchmarks page and
# in benchmarks/published/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
PYTHON=${PYTHON:-python}
R=benchmarks/results
mkdir -p "$R"
target=${1:?usage: bash benchmarks/regenerate.sh mnist|digits|gist|gate|ceiling|unseen [skhash benchmark options]}
shift
EXTRA=("$@")

done_already() {  # done_already FILE COMMAND...: FILE holds a complete run of COMMAND
    local file=$1
    shift
    [ -z "${FORCE:-}" ] && [ -f "$file" ] && "$PYTHON" - "$file" "$@" <<'PY'
import json, sys
meta = json.load(open(sys.argv[1]))
command = " ".join(meta.get("meta", {}).get("command", "").split(" --output ")[:1])
sys.exit(0 if meta.get("complete") and command.split()[2:] == sys.argv[2:] else 1)
PY
}

run() {  # run NAME ARGS...: one skhash benchmark run, its figures in $R/NAME.json
    local name=$1
    shift
    if done_already "$R/$name.json" "$@" ${EXTRA[@]+"${EXTRA[@]}"}; then
        echo "== $name: complete in $R/$name.json, not run again" >&2
        return
    fi
    echo "== $name: skhash benchmark $*" >&2
    if ! "$PYTHON" -m skhash benchmark "$@" ${EXTRA[@]+"${EXTRA[@]}"} \
            --output "$R/$name.json" > "$R/$name.txt" 2> "$R/$name.log"; then
        echo "== $name failed; the end of $R/$name.log:" >&2
        tail -n 20 "$R/$name.log" >&2
        exit 1
    fi
}

validate() {  # validate NAME ARGS...: a validation-split study (benchmarks/validate_deepquan.py)
    script NAME validate_deepquan "$@"
}

script() {  # script NAME SCRIPT ARGS...: benchmarks/SCRIPT.py, its rows in $R/NAME.json
    local name=$1 file=benchmarks/$2.py
    shift 2
    echo "== $name: python $file $*" >&2
    if ! "$PYTHON" "$file" "$@" --output "$R/$name.json" \
            > "$R/$name.txt" 2> "$R/$name.log"; then
        echo "== $name failed; the end of $R/$name.log:" >&2
        tail -n 20 "$R/$name.log" >&2
        exit 1
    fi
}

machine="$("$PYTHON" -c 'from skhash._report import environment as e; m = e(); print("%s (%s logical CPUs)" % (m["cpu"], m["cpu_count"]))')"

case "$target" in
    mnist)
        M=(--dataset mnist --data-home "$DATA/mnist")
        run mnist_cnnbh "${M[@]}" --methods cnnbh --bits 12 24 32 48
        run mnist_ssdh "${M[@]}" --methods ssdh --bits 12 32 48
        run mnist_ssdh_ablation "${M[@]}" --methods ssdh --bits 48 --ablation 1,0,0 1,1,0 1,1,1
        run mnist_ssdh_multilabel "${M[@]}" --methods ssdh --bits 48 --multilabel
        run mnist_dpq "${M[@]}" --methods dpq --codes 2x64 4x64 6x64 8x64
        run mnist_dpq_ablation "${M[@]}" --methods dpq --codes 8x64 \
            --dpq-ablation no_central no_gini_batch no_gini_sample
        run mnist_deepquan "${M[@]}" --methods pq deepquan --codes 1x256 2x256 4x256 8x256
        run mnist_deepquan_dae "${M[@]}" --methods deepquan --codes 1x256 2x256 4x256 8x256 \
            --deepquan-variants dae_pq
        run mnist_deepquan_losses "${M[@]}" --methods deepquan --codes 2x256 \
            --deepquan-variants triplet_only quadratic_only quadratic
        validate mnist_deepquan_validation --dataset mnist --data-home "$DATA/mnist" '{}' \
            '{"normalize": false, "margin": 10.0, "eta": 5.28}' '{"eta": 5.4}' '{"eta": 0.054}' \
            '{"margin": 0.5, "negative_weight": 0.5}' '{"quantization_loss": null}'
        run mnist_deepsom "${M[@]}" --methods deepsom --deepsom-variants full zero
        run mnist_deepsom_maps "${M[@]}" --methods deepsom --map-shape 75x75 10x10
        run mnist_deepsom_zero40 "${M[@]}" --methods deepsom --deepsom-variants zero --epochs 40
        run mnist_deepquan_defaults "${M[@]}" --methods pq deepquan --codes 2x256 \
            --deepquan-variants full dae_pq
        run mnist_jitter_deepquan "${M[@]}" --distort jitter --methods pq deepquan \
            --codes 2x256 4x256 8x256 --deepquan-variants full dae_pq
        "$PYTHON" -m skhash report --merge benchmarks/published/mnist.json \
            "$R/mnist_cnnbh.json=cnnbh" "$R/mnist_ssdh.json=ssdh" \
            "$R/mnist_ssdh_ablation.json=ssdh_ablation" \
            "$R/mnist_ssdh_multilabel.json=ssdh_multilabel" "$R/mnist_dpq.json=dpq" \
            "$R/mnist_dpq_ablation.json=dpq_ablation" "$R/mnist_deepquan.json=deepquan" \
            "$R/mnist_deepquan_dae.json=deepquan" "$R/mnist_deepquan_losses.json=deepquan_losses" \
            "$R/mnist_deepquan_validation.json=deepquan_validation" \
            "$R/mnist_deepsom.json=deepsom" "$R/mnist_deepsom_maps.json=deepsom" \
            "$R/mnist_deepsom_zero40.json=deepsom" \
            "$R/mnist_jitter_deepquan.json=deepquan_jitter" \
            "$R/mnist_deepquan_defaults.json=deepquan_defaults" \
            --notes "$machine; ${NOTES:-the runs one after the other}"
        ;;
    digits)
        run digits_deepquan --dataset digits --methods pq deepquan --codes 2x256 4x256 8x256 \
            --deepquan-variants full dae_pq
        validate digits_deepquan_validation --dataset digits pq '{}' \
            '{"pretrain_epochs": 20, "max_epochs": 10}' '{"quantization_loss": null}' \
            '{"standardize": false}' '{"eta": 2}' '{"eta": 8}' '{"margin": 0.1}' \
            '{"margin": 0.001, "negative_weight": 0.2}'
        "$PYTHON" -m skhash report --merge benchmarks/published/digits.json \
            "$R/digits_deepquan.json=deepquan" "$R/digits_deepquan_validation.json=deepquan_validation" \
            --notes "$machine; ${NOTES:-the runs one after the other}"
        ;;
    gist)
        validate deepquan_gist_validation --dataset cifar10 --features gist \
            --data-home "$DATA/cifar10-jpeg" --n-train 10000 pq '{}' '{"quantization_loss": null}' \
            '{"standardize": false}' '{"quantization_loss": null, "standardize": false}' \
            '{"eta": 8}' '{"margin": 0.1}' '{"margin": 0.001, "negative_weight": 0.2}'
        "$PYTHON" -m skhash report --merge benchmarks/published/deepquan.json \
            "$R/deepquan_gist_validation.json=gist_validation" \
            --notes "$machine; ${NOTES:-one run}"
        ;;
    gate)
        # DeepQuan's fine-tuning gate (min_stability): always fine-tuned, DAE-PQ and PQ
        # on five validation splits, the code stability beside each
        G=(pq '{"min_stability": 0}' '{"quantization_loss": null}')
        validate gate_digits --dataset digits "${G[@]}"
        validate gate_mnist --dataset mnist --data-home "$DATA/mnist" "${G[@]}"
        validate gate_mnist_jitter --dataset mnist --data-home "$DATA/mnist" --distort jitter \
            "${G[@]}"
        validate gate_gist --dataset cifar10 --features gist --data-home "$DATA/cifar10-jpeg" \
            --n-train 10000 "${G[@]}"
        validate gate_cifar10 --dataset cifar10 --data-home "$DATA/cifar10-jpeg" \
            --n-train 10000 "${G[@]}"
        # today's defaults on the benchmark queries, 16/32/64 bits, PQ beside them
        Q=(--methods pq deepquan --codes 2x256 4x256 8x256 --deepquan-variants full)
        run gate_q_digits --dataset digits "${Q[@]}"
        run gate_q_mnist --dataset mnist --data-home "$DATA/mnist" "${Q[@]}"
        run gate_q_mnist_jitter --dataset mnist --data-home "$DATA/mnist" --distort jitter \
            "${Q[@]}" dae_pq
        run gate_q_gist --dataset cifar10 --data-home "$DATA/cifar10-jpeg" --protocol cnnh \
            --features gist --k 1000 --map-normalize relevant min "${Q[@]}"
        run gate_q_cifar10 --dataset cifar10 --data-home "$DATA/cifar10-jpeg" --protocol cnnh \
            "${Q[@]}"
        "$PYTHON" -m skhash report --merge benchmarks/published/deepquan_gate.json \
            "$R/gate_q_digits.json=queries" "$R/gate_q_mnist.json=queries" \
            "$R/gate_q_mnist_jitter.json=queries" "$R/gate_q_gist.json=queries" \
            "$R/gate_q_cifar10.json=queries" \
            "$R/gate_digits.json=validation" "$R/gate_mnist.json=validation" \
            "$R/gate_mnist_jitter.json=validation" "$R/gate_gist.json=validation" \
            "$R/gate_cifar10.json=validation" --notes "$machine; ${NOTES:-one run}"
        ;;
    ceiling)
        # exact float search in label-free representations, on the gate's validation splits
        script ceiling_digits label_free_ceiling --dataset digits
        script ceiling_mnist label_free_ceiling --dataset mnist --data-home "$DATA/mnist"
        script ceiling_mnist_jitter label_free_ceiling --dataset mnist --data-home "$DATA/mnist" \
            --distort jitter
        script ceiling_gist label_free_ceiling --dataset cifar10 --features gist \
            --data-home "$DATA/cifar10-jpeg" --n-train 10000
        script ceiling_cifar10 label_free_ceiling --dataset cifar10 \
            --data-home "$DATA/cifar10-jpeg" --n-train 10000
        "$PYTHON" -m skhash report --merge benchmarks/published/deepquan_ceiling.json \
            "$R/ceiling_digits.json=validation" "$R/ceiling_mnist.json=validation" \
            "$R/ceiling_mnist_jitter.json=validation" "$R/ceiling_gist.json=validation" \
            "$R/ceiling_cifar10.json=validation" --notes "$machine; ${NOTES:-one run}"
        ;;
    unseen)
        run cifar10_unseen --dataset cifar10 --data-home "$DATA/cifar10-jpeg" \
            --protocol unseen --methods cnnbh dpq itq lsh --bits 48 --codes 8x64
        "$PYTHON" -m skhash report --merge benchmarks/published/cifar10_unseen.json \
            "$R/cifar10_unseen.json" --notes "$machine${NOTES:+; $NOTES}"
        ;;
    *)
        echo "unknown target $target: mnist, digits, gist, gate, ceiling or unseen" >&2
        exit 2
        ;;
esac
