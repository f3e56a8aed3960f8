#!/usr/bin/env bash
# Regenerate a published results file from scratch: run its benchmarks, then merge
# them into benchmarks/published/ (what the docs' tables and figures are drawn from).
#
#   bash benchmarks/regenerate.sh mnist      # MNIST, every method: about 1.5 hours on 2 CPU cores
#   bash benchmarks/regenerate.sh unseen     # CIFAR-10, unseen classes: about 1 hour
#
# The raw outputs go to benchmarks/results/ (ignored by git): NAME.json (every figure
# and what produced it), NAME.txt (the table), NAME.log (progress). DATA names the
# folder that holds mnist/ and cifar10-jpeg/ (default ../shared/data), PYTHON the
# interpreter with skhash installed (default: python on the PATH). Extra
# arguments go to every `skhash benchmark` run (e.g. --device cuda). The CIFAR-10
# tables of the other protocols take hours each on a CPU: their commands are on the
# benchmarks page and in benchmarks/published/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
PYTHON=${PYTHON:-python}
R=benchmarks/results
mkdir -p "$R"
target=${1:?usage: bash benchmarks/regenerate.sh mnist|unseen [skhash benchmark options]}
shift
EXTRA=("$@")

run() {  # run NAME ARGS...: one skhash benchmark run, its figures in $R/NAME.json
    local name=$1
    shift
    echo "== $name: skhash benchmark $*" >&2
    if ! "$PYTHON" -m skhash benchmark "$@" ${EXTRA[@]+"${EXTRA[@]}"} \
            --output "$R/$name.json" > "$R/$name.txt" 2> "$R/$name.log"; then
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
        run mnist_dpq "${M[@]}" --methods dpq --codes 2x64 4x64 6x64 8x64
        run mnist_deepquan "${M[@]}" --methods pq deepquan --codes 1x256 2x256 4x256 8x256
        run mnist_deepsom "${M[@]}" --methods deepsom --deepsom-variants full zero
        "$PYTHON" -m skhash report --merge benchmarks/published/mnist.json \
            "$R/mnist_cnnbh.json=cnnbh" "$R/mnist_ssdh.json=ssdh" "$R/mnist_dpq.json=dpq" \
            "$R/mnist_deepquan.json=deepquan" "$R/mnist_deepsom.json=deepsom" \
            --notes "$machine; the runs one after the other"
        ;;
    unseen)
        run cifar10_unseen --dataset cifar10 --data-home "$DATA/cifar10-jpeg" \
            --protocol unseen --methods cnnbh dpq itq lsh --bits 48 --codes 8x64
        "$PYTHON" -m skhash report --merge benchmarks/published/cifar10_unseen.json \
            "$R/cifar10_unseen.json" --notes "$machine"
        ;;
    *)
        echo "unknown target $target: mnist or unseen" >&2
        exit 2
        ;;
esac
