#!/bin/bash
# On the GPU machine (no TensorFlow, no network), from the repo root. Zoo graphs with their
# TensorFlow references (NAME.pb, NAME.json, NAME.ref.npz) are carried in $ZOO.
#   ZOO=.gpu/zoo STEPS="env tests latency load" MODELS=deepfm,dcn,din,transformer bash bench/gpu_run.sh
# Steps: env, tests, latency, load, options (XLA option sets), profile (kernels), hoisting, host_tables, host_part
# (HOST_PART=DIR of artifacts from `python bench/host_part.py prepare DIR`), peer.
# Writes $OUT/gpu_latency.jsonl, $OUT/gpu_load.jsonl, $OUT/gpu_options.jsonl, $OUT/hoisting_h200.jsonl,
# $OUT/host_tables_h200.jsonl, $OUT/host_part_h200.jsonl, $OUT/log.txt.
set -u
: "${ZOO:?}" "${STEPS:=env tests latency load}" "${MODELS:=deepfm,dcn,din,transformer}" "${LOAD_MODELS:=deepfm,din}"
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
SRC=/tmp/fourier-src; rm -rf $SRC; mkdir -p $SRC
cp -r fourier $SRC/ && cp -r passes $SRC/fourier/passes && cp -r backends $SRC/fourier/backends
cp -r tests bench pyproject.toml $SRC/  # the bench scripts put their parent first on sys.path;
# pytest puts the rootdir first on sys.path: run it from the assembled copy
[ -d .whl ] && python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$SRC:$PWD PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false FOURIER_ZOO_DIR=$PWD/$ZOO
for step in $STEPS; do
  echo "== $step $(date +%T)" | tee -a $OUT/log.txt
  case $step in
    env) python3 -c "import jax, numpy; print(jax.__version__, jax.devices(), numpy.__version__)
import importlib
for m in ('cuda.bindings', 'cupy', 'safetensors', 'networkx', 'rich', 'click', 'prometheus_client', 'ml_dtypes', 'flatbuffers', 'tensorboard', 'google.protobuf'):
    try: mod = importlib.import_module(m); print(m, getattr(mod, '__version__', 'ok'))
    except Exception as e: print(m, 'MISSING', e)" 2>&1 | tee -a $OUT/log.txt ;;
    tests) (cd $SRC && timeout ${TEST_TIMEOUT:-300} python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py -k "${TEST_K:-}" 2>&1) | tail -30 | tee -a $OUT/log.txt ;;
    latency) FOURIER_CUDA_API=${CUDA_API:-} timeout ${LAT_TIMEOUT:-300} python3 $SRC/bench/gpu_serving.py latency $ZOO $OUT/gpu_latency.jsonl --models $MODELS 2>&1 | tail -40 >> $OUT/log.txt ;;
    load) timeout ${LOAD_TIMEOUT:-240} python3 $SRC/bench/gpu_serving.py load $ZOO $OUT/gpu_load.jsonl --models $LOAD_MODELS --seconds ${SECONDS_PER:-4} --processes ${PROCS:-1} --switch-interval-ms ${SWITCH_MS:-5} 2>&1 | tail -40 >> $OUT/log.txt ;;
    options) timeout ${OPT_TIMEOUT:-240} python3 $SRC/bench/gpu_options.py $ZOO $OUT/gpu_options.jsonl --models $MODELS 2>&1 | tail -40 >> $OUT/log.txt ;;
    profile) timeout ${PROF_TIMEOUT:-120} python3 $SRC/bench/gpu_profile.py $ZOO $OUT/gpu_profile.jsonl --models ${PROF_MODELS:-din,deepfm,dcn} --batches ${PROF_BATCHES:-1024} 2>&1 | tail -80 >> $OUT/log.txt ;;
    hoisting) timeout ${HOIST_TIMEOUT:-150} python3 $SRC/bench/hoisting.py $OUT/hoisting_h200.jsonl --models din,ranker,twotower,deepfm 2>&1 | tail -20 >> $OUT/log.txt ;;
    host_tables) timeout ${HT_TIMEOUT:-120} python3 $SRC/bench/host_tables.py $OUT/host_tables_h200.jsonl --models deepfm --batches 32,128,1024 2>&1 | tail -20 >> $OUT/log.txt ;;
    host_part) timeout ${HP_TIMEOUT:-120} python3 $SRC/bench/host_part.py run ${HOST_PART:?} $OUT/host_part_h200.jsonl --batches 1,32,128,1024 --rounds 10 2>&1 | tail -20 >> $OUT/log.txt ;;
    peer) MODELS="${PEER_MODELS:-deepfm dcn din transformer}" timeout ${PEER_TIMEOUT:-320} bash .gpu/peer_bench/run_peer.sh >> $OUT/log.txt 2>&1 ;;
  esac
done
echo "== done $(date +%T)" | tee -a $OUT/log.txt
