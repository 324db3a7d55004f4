#!/usr/bin/env bash
# The GPU checks in one command, on a machine with an NVIDIA GPU, CUDA, CMake, Ninja and python3 with
# PyTorch, but no .NET. Run from the repository root after scripts/gpu-pack.sh packed .device/ here
# and .device was copied along with the checkout:
#
#   scripts/gpu-check.sh
#
# Steps (each runs even when an earlier one failed, each within its own time limit and a shared budget):
#   runtime      unpack the .NET runtime (/tmp/dn) and the packed tests and CLI (/tmp/neuron-app)
#   gpu-info     nvidia-smi, nvcc --version
#   native-build libneuron.so with CUDA for sm_90 in build-gpu/ (falls back to the packed CUDA 11.8 build if it
#                fails), and the GEMM variants' products bench beside it
#   pytorch      bench/pytorch_bench.py: the benchmark cases in PyTorch (eager and CUDA graph); quick sizes when
#                GPU_CHECK_BENCH_ARGS has --quick, so that the ratios compare the same work
#   bench        neuron bench on cuda, full size, with the PyTorch ratios and the targets
#   native-tests ctest with NEURON_TEST_REQUIRE_CUDA=1
#   products     native/bench's neuron_products_bench on cuda: forward, dW and dX alone (what bounds a step),
#                neuron_calls_bench (what one API call costs, and a device-resident step's latency), then
#                the products again with each GEMM variant (gemm_variants below, built by native-build); the
#                bench checks every product's result before it prints a time, so a wrong variant fails here;
#                neuron_fills_bench on cuda; last, the host backend's neuron_steps_bench and neuron_fills_bench
#                on this machine's cores (host-bench.txt)
#   nunit        the whole NUnit suite with NEURON_BACKEND=cuda, NEURON_TEST_REQUIRE_CUDA=1 (no GPU test may skip)
#   package      tests/PackageConsumer as published against the NuGet package, with the packed CUDA 11.8
#                libneuron.so where the package puts it: the library a package built without a GPU carries
#                trains on this GPU as on the host
#   memcheck     compute-sanitizer --tool memcheck over every native test area that runs CUDA code
#                (the areas labelled cuda-memcheck in native/tests/CMakeLists.txt)
#   racecheck    compute-sanitizer --tool racecheck over the native test areas labelled cuda-racecheck, test by
#                test, each within its own time limit (cuda_each_kernel launches every kernel at the
#                smallest shapes that pick it)
#   ncu          Nsight Compute on the large case's GEMM launches: what bounds them, and the shared-memory
#                wavefronts, registers and occupancy of each GEMM variant beside them (ncu-gemm.txt)
#   synccheck    compute-sanitizer --tool synccheck (barriers and warp synchronisation used as the hardware
#                allows) and
#   initcheck    --tool initcheck (no kernel reads global memory that nothing wrote), test by test over the
#                areas labelled cuda-synccheck and cuda-initcheck (cuda_each_kernel); last, as the checks
#                least likely to find anything new
#
# Results go to $OUT (or out/gpu-check): summary.txt (per-step status and the benchmark table),
# bench-table.txt, products-cuda.txt, host-bench.txt, bench-cuda.json, bench-pytorch.json, ncu-gemm.txt,
# logs.tar.gz (every step's log).
# The exit status is non-zero when any step failed.
#
# Environment: GPU_CHECK_BUDGET_S  total seconds for all steps (default 540: run it with a 600 s limit)
#              GPU_CHECK_STEPS     space-separated subset of the steps above (default: all)
#              GPU_CHECK_SANITIZER_TEST_S seconds racecheck, synccheck or initcheck may take over one
#                                   native test (default 60)
#              GPU_CHECK_BENCH_ARGS extra arguments for neuron bench (e.g. --quick)
#              GPU_CHECK_PACKAGE_LIB the libneuron.so the package step uses instead of the packed
#                                   CUDA 11.8 build (a rehearsal: the emulator's)
#              GPU_CHECK_NATIVE_LIB the libneuron.so the managed steps use instead of build-gpu's.
#                                   A rehearsal without a GPU points it at the CUDA emulator's
#                                   (built with -DNEURON_CUDA_EMULATOR_SANITIZE=OFF) and runs
#                                   GPU_CHECK_STEPS="runtime nunit bench package" GPU_CHECK_BENCH_ARGS=--quick
#                                   (with GPU_CHECK_PACKAGE_LIB at the same library).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# The fingerprint of the sources the pack comes from: the managed outputs' (src/, tests/ and the
# build files around them, outside bin/ and obj/) and the packed CUDA 11.8 library's (native/, the
# CMake files), so that neither the tests nor the package step run what the checkout no longer holds.
# gpu-pack.sh records it, step_runtime compares.
pack_fingerprint() {
  find src tests Directory.Build.props global.json NeuronInterop.sln native CMakeLists.txt cmake -type f \
      -not -path '*/bin/*' -not -path '*/obj/*' 2>/dev/null | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16
}
if [[ ${1:-} == --pack-fingerprint ]]; then
  pack_fingerprint
  exit 0
fi
out=${OUT:-$root/out/gpu-check}
logs=/tmp/gpu-check-logs
budget=${GPU_CHECK_BUDGET_S:-540}
selected=${GPU_CHECK_STEPS:-"runtime gpu-info native-build pytorch bench native-tests products nunit package memcheck racecheck ncu synccheck initcheck"}
mkdir -p "$out"
# A PyTorch result left by an earlier run into the same folder must not lend its times to this
# run's ratios, even when the pytorch step is not selected or is cut for time.
rm -f "$out/bench-pytorch.json"
rm -rf "$logs"
mkdir -p "$logs"
started=$SECONDS

export DOTNET_ROOT=/tmp/dn
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# The CUDA tools (nvcc, compute-sanitizer, ncu) where a toolkit installs them, when not on PATH.
export PATH="$DOTNET_ROOT:$PATH:/usr/local/cuda/bin"
# .NET needs ICU unless told to run without: the tests and tools use no culture of their own.
if ! ldconfig -p 2>/dev/null | grep -q libicuuc; then
  export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
fi
export PYTHONUNBUFFERED=1
export APP=/tmp/neuron-app
export NATIVE_LIB=${GPU_CHECK_NATIVE_LIB:-$root/build-gpu/libneuron.so}
export OUT_DIR="$out" LOG_DIR="$logs"

step_names=()
step_status=()
step_seconds=()

# Through a file outside $OUT, of which at most 8 files come back: a partial archive there would
# take a place.
bundle_logs() {
  tar czf "$logs.tar.gz.tmp" -C "$logs" . 2>/dev/null && mv "$logs.tar.gz.tmp" "$out/logs.tar.gz"
}

# What a step cut at its limit leaves running: timeout kills the step's process group, but a
# sanitizer run under its own timeout (sanitize) is in a group of its own.
kill_leftovers() {
  pkill -KILL -f 'compute-sanitizer|/ncu |neuron_tests|neuron_[a-z]*_bench|NeuronInterop.Tests' 2>/dev/null
  return 0
}

write_summary() {
  {
    echo "GPU check of $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') on $(hostname), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    [[ -f .device/MANIFEST ]] && sed -n '1,4p' .device/MANIFEST | sed 's/^/pack /'
    echo "native library used: ${NATIVE_LIB}"
    echo
    printf '%-13s %-28s %s\n' step status seconds
    for i in "${!step_names[@]}"; do
      printf '%-13s %-28s %s\n' "${step_names[$i]}" "${step_status[$i]}" "${step_seconds[$i]}"
    done
    for table in bench-table.txt products-cuda.txt; do
      if [[ -f "$out/$table" ]]; then
        echo
        cat "$out/$table"
      fi
    done
  } >"$out/summary.txt"
}

# run_step NAME LIMIT_SECONDS FUNCTION: runs FUNCTION in a child bash with a time limit; its output goes to NAME.log.
run_step() {
  local name=$1 limit=$2 fn=$3 status rc t0
  [[ " $selected " == *" $name "* ]] || return 0
  local left=$(( budget - (SECONDS - started) ))
  (( limit > left )) && limit=$left
  t0=$SECONDS
  if (( limit < 15 )); then
    status="skipped (time budget)"
  else
    echo "==> $name (limit ${limit}s)"
    timeout --kill-after=10 "$limit" bash -c "set -uo pipefail; $fn" >"$logs/$name.log" 2>&1
    rc=$?
    case $rc in
      0) status=pass ;;
      124|137) status="FAIL (timeout ${limit}s)"; kill_leftovers ;;
      *) status="FAIL (exit $rc)" ;;
    esac
    tail -n 5 "$logs/$name.log" | sed "s/^/    /"
  fi
  step_names+=("$name")
  step_status+=("$status")
  step_seconds+=("$(( SECONDS - t0 ))")
  echo "<== $name: $status"
  bundle_logs
  write_summary
}

# ---- steps -----------------------------------------------------------------------------------
step_runtime() {
  [[ -f .device/dotnet-rt.tar.xz && -f .device/app.tar.xz ]] || { echo "run scripts/gpu-pack.sh first and copy .device along with the checkout"; exit 1; }
  cat .device/MANIFEST 2>/dev/null
  local packed here
  packed=$(cat .device/pack.fingerprint 2>/dev/null || echo none)
  here=$(pack_fingerprint)
  if [[ $packed != "$here" ]]; then
    echo "the packed tests, CLI and CUDA 11.8 library ($packed) were built from other sources than this checkout's ($here):"
    echo "run scripts/gpu-pack.sh again"
    exit 1
  fi
  rm -rf "$DOTNET_ROOT" "$APP" && mkdir -p "$DOTNET_ROOT" "$APP"
  tar xJf .device/dotnet-rt.tar.xz -C "$DOTNET_ROOT"
  tar xJf .device/app.tar.xz -C "$APP"
  "$DOTNET_ROOT/dotnet" --list-runtimes
  ls "$APP/tests/NeuronInterop.Tests.dll" "$APP/cli/neuron.dll" "$APP/package-consumer/PackageConsumer.dll"
}

step_gpu_info() {
  nvidia-smi &&
    echo "nvcc: $(command -v nvcc)" &&
    nvcc --version &&
    cmake --version | head -n 1 &&
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
}

# configure_gpu_build DIR [CMAKE_ARGS...]: a release build with CUDA for sm_90 in DIR. The CUDA
# emulator's tests ran in CI already; here the GPU runs the kernels.
configure_gpu_build() {
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNEURON_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DNEURON_CUDA_EMULATOR=OFF "${@:2}"
}

# The GEMM variants the products step times against the default build: a build folder and its
# CMake options per line (see native/src/cuda/gemm_tiling.h).
gemm_variants() {
  echo "build-gpu-swapped-lanes -DNEURON_CUDA_GEMM_SWAPPED_LANES=ON"
}

step_native_build() {
  # The variants' products bench builds alongside (each logs to its own file): the step's wall
  # time is the longest nvcc compile either way. A failed variant shows in the products step.
  local dir options rc
  while read -r dir options; do
    # shellcheck disable=SC2086
    { configure_gpu_build "$dir" -DBUILD_TESTING=OFF $options &&
        cmake --build "$dir" --parallel "$(nproc)" --target neuron_products_bench; } </dev/null >"$LOG_DIR/build-$dir.log" 2>&1 &
  done < <(gemm_variants)
  configure_gpu_build build-gpu && cmake --build build-gpu --parallel "$(nproc)"
  rc=$?
  wait
  return $rc
}

step_native_tests() {
  NEURON_TEST_REQUIRE_CUDA=1 ctest --test-dir build-gpu --output-on-failure --timeout 240
}

step_nunit() {
  NEURON_BACKEND=cuda NEURON_TEST_REQUIRE_CUDA=1 NEURON_NATIVE_PATH="$NATIVE_LIB" \
    "$DOTNET_ROOT/dotnet" "$APP/tests/NeuronInterop.Tests.dll" --results-directory "$LOG_DIR/nunit-results"
}

step_package() {
  local lib=${GPU_CHECK_PACKAGE_LIB:-.device/native-cuda118/libneuron.so}
  [[ -f $lib ]] || { echo "no $lib: the pack has no CUDA 11.8 build"; return 1; }
  cp "$lib" "$APP/package-consumer/libneuron.so"
  env -u NEURON_NATIVE_PATH NEURON_TEST_REQUIRE_CUDA=1 "$DOTNET_ROOT/dotnet" "$APP/package-consumer/PackageConsumer.dll"
}

step_pytorch() {
  local quick=()
  [[ " ${GPU_CHECK_BENCH_ARGS:-} " == *" --quick "* ]] && quick=(--quick)
  # Written beside the logs, then copied: a file the script leaves half-written in $OUT would take one of its 8 places.
  python3 bench/pytorch_bench.py --device cuda "${quick[@]}" --json "$LOG_DIR/bench-pytorch.json" &&
    cp "$LOG_DIR/bench-pytorch.json" "$OUT_DIR/bench-pytorch.json"
}

step_bench() {
  local pytorch=()
  [[ -s "$OUT_DIR/bench-pytorch.json" ]] && pytorch=(--pytorch "$OUT_DIR/bench-pytorch.json")
  # shellcheck disable=SC2086
  NEURON_NATIVE_PATH="$NATIVE_LIB" "$DOTNET_ROOT/dotnet" "$APP/cli/neuron.dll" bench --device cuda \
    --json "$OUT_DIR/bench-cuda.json" "${pytorch[@]}" ${GPU_CHECK_BENCH_ARGS:-} | tee "$OUT_DIR/bench-table.txt"
}

step_products() {
  local dir options failed=0
  # Line-buffered (stdbuf), so that a step cut at its limit keeps the lines printed so far.
  stdbuf -oL build-gpu/native/bench/neuron_products_bench --device cuda | tee "$OUT_DIR/products-cuda.txt" || failed=1
  # What a call costs beyond its arithmetic (launches, checks): bounds the steps with a callback
  # and the module API, one or five calls per step.
  { echo && stdbuf -oL build-gpu/native/bench/neuron_calls_bench --device cuda; } | tee -a "$OUT_DIR/products-cuda.txt" || failed=1
  # The same products with each GEMM variant: which to keep.
  while read -r dir options; do
    if [[ -x "$dir/native/bench/neuron_products_bench" ]]; then
      { echo && echo "The same products built with $options:" && stdbuf -oL "$dir/native/bench/neuron_products_bench" --device cuda </dev/null; } |
        tee -a "$OUT_DIR/products-cuda.txt" || failed=1
    else
      echo "$dir was not built: see build-$dir.log in logs.tar.gz"
      failed=1
    fi
  done < <(gemm_variants)
  # Last, the host backend's training steps on this machine's cores (a few seconds): when its
  # products share out threads (native/src/host/host_kernels.cpp, kMinWorkPerThread) was
  # measured on 2 cores only.
  # The host's fills and copies share out threads by bounds measured on 2 cores as well
  # (host_kernels.cpp, Fills and copies); the same on the GPU for comparison.
  { echo "Host backend, $(nproc) logical processors:" && stdbuf -oL build-gpu/native/bench/neuron_steps_bench --device host &&
    echo && stdbuf -oL build-gpu/native/bench/neuron_fills_bench --device host; } \
    </dev/null | tee "$OUT_DIR/host-bench.txt" || failed=1
  { echo && stdbuf -oL build-gpu/native/bench/neuron_fills_bench --device cuda; } </dev/null | tee -a "$OUT_DIR/products-cuda.txt" || failed=1
  return $failed
}

# What bounds the large case's products, from Nsight Compute: the throughput, memory, occupancy
# and warp-stall sections of each gemm_kernel launch of neuron_products_bench --quick on
# 8192x4096x4096 (forward, weight and input gradient, each twice; at this size the forward runs
# the NT kernel on a transposed W, see gemm.cu). Then, per GEMM variant and
# for the products of a training step (forward and weight gradient, each twice), the figures that
# tell the variants apart: shared-memory wavefronts and bank conflicts, registers, achieved
# occupancy and duration. In between, the same six launches' warp stalls by reason, and the
# resident tutorial step's.
step_ncu() {
  local ncu compare dir options failed=0
  ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
  compare=l1tex__data_pipe_lsu_wavefronts_mem_shared_op_ld.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum
  compare+=,l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_st.sum,launch__registers_per_thread
  compare+=,sm__warps_active.avg.pct_of_peak_sustained_active,gpu__time_duration.sum
  "$ncu" --kernel-name regex:gemm_kernel --launch-count 6 --section SpeedOfLight --section ComputeWorkloadAnalysis \
    --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats --section WarpStateStats \
    --metrics "$compare" build-gpu/native/bench/neuron_products_bench --device cuda --quick 8192x4096x4096 \
    >"$OUT_DIR/ncu-gemm.txt" || return 1
  # Where the warps of each product wait, cycles per issued instruction by reason (on the H200 the
  # NN kernel, then the forward's, issued as many instructions as the weight gradient's TN kernel, at
  # 68% of the issue slots against 83%): a separate run, so that a metric this ncu lacks costs only
  # these lines.
  local stalls='regex:^smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio$'
  echo "==== Warp stalls per issued instruction, by reason" >>"$OUT_DIR/ncu-gemm.txt"
  "$ncu" --kernel-name regex:gemm_kernel --launch-count 6 --metrics "$stalls" \
    build-gpu/native/bench/neuron_products_bench --device cuda --quick 8192x4096x4096 </dev/null \
    >>"$OUT_DIR/ncu-gemm.txt" || failed=1
  # The device-resident tutorial step (1,000 steps of 1 -> 1 in one launch of the one-warp kernel;
  # the one-block kernel it replaced was 9% short of the target on the H200): its instructions,
  # its stalls, and where in the source.
  echo "==== The resident tutorial step: train_warp_kernel" >>"$OUT_DIR/ncu-gemm.txt"
  "$ncu" --kernel-name regex:train_warp_kernel --launch-count 1 --section WarpStateStats --section SourceCounters \
    --metrics "smsp__inst_executed.sum,sm__cycles_elapsed.max,$stalls" \
    build-gpu/native/bench/neuron_calls_bench --device cuda --quick --resident-only </dev/null \
    >>"$OUT_DIR/ncu-gemm.txt" || failed=1
  while read -r dir options; do
    [[ -x "$dir/native/bench/neuron_products_bench" ]] || continue
    echo "==== The same products built with $options" >>"$OUT_DIR/ncu-gemm.txt"
    "$ncu" --kernel-name regex:gemm_kernel --launch-count 4 --metrics "$compare" \
      "$dir/native/bench/neuron_products_bench" --device cuda --quick 8192x4096x4096 </dev/null >>"$OUT_DIR/ncu-gemm.txt" || failed=1
  done < <(gemm_variants)
  return $failed
}

# The commands CTest runs for the native test areas labelled LABEL (native/tests/CMakeLists.txt),
# one "name command" per line.
native_test_commands() {
  ctest --test-dir build-gpu --label-regex "^$1\$" --show-only=json-v1 | python3 -c '
import json, shlex, sys
for test in json.load(sys.stdin)["tests"]:
    if "command" in test:
        print(test["name"], shlex.join(test["command"]))
    else:
        print(test["name"] + ": its executable is not built", file=sys.stderr)'
}

# sanitize TOOL: compute-sanitizer's TOOL over each native test area labelled cuda-TOOL. Memcheck
# runs each area at once; the other tools run each test of an area on its own, within
# GPU_CHECK_SANITIZER_TEST_S seconds (default 60): racecheck's cost grows with shared-memory
# accesses (on the H200, cuda_vs_host took over five minutes as one run, which is why
# cuda_each_kernel races the kernels at small shapes in its place), and one test a tool cannot
# finish must not hide the others' verdicts. A test cut short fails the step as "not checked".
sanitize() {
  local tool=$1 failed=0 ran=0 name command log status executable area test t0
  while read -r name command; do
    echo "---- $tool: $name"
    ran=1
    if [[ $tool == memcheck ]]; then
      log=$LOG_DIR/memcheck-$name.txt
      # shellcheck disable=SC2086
      NEURON_TEST_REQUIRE_CUDA=1 compute-sanitizer --tool memcheck $command </dev/null 2>&1 | tee "$log"
      status=${PIPESTATUS[0]}
      memcheck_verdict "$log" "$status" || failed=1
    else
      read -r executable area <<<"$command"
      local tests
      tests=$("$executable" --list "$area")
      [[ -n $tests ]] || { echo "$tool: $name lists no tests: nothing checked"; failed=1; }
      for test in $tests; do
        t0=$SECONDS
        NEURON_TEST_REQUIRE_CUDA=1 timeout --kill-after=5 "${GPU_CHECK_SANITIZER_TEST_S:-60}" \
          compute-sanitizer --tool "$tool" --error-exitcode 86 "$executable" "$test" </dev/null
        status=$?
        case $status in
          0) echo "$tool: $test: nothing reported ($(( SECONDS - t0 )) s)" ;;
          124|137) echo "$tool: $test: not checked, cut short after $(( SECONDS - t0 )) s"; failed=1 ;;
          86) echo "$tool: $test: ERRORS REPORTED (above)"; failed=1 ;;
          *) echo "$tool: $test: failed under $tool (exit $status)"; failed=1 ;;
        esac
      done
    fi
  done < <(native_test_commands "cuda-$tool")
  (( ran )) || { echo "no built native test area is labelled cuda-$tool"; return 1; }
  return $failed
}

# memcheck_verdict LOG STATUS: whether a test area passed under memcheck. The tests make CUDA calls
# fail on purpose (a 16 TiB tensor, say) and check the library's answer, and memcheck counts each
# failed call as an error: those out-of-memory answers are allowed, any other error fails (a memory
# error, or a cudaFree of something that is no allocation, which the library cannot report).
memcheck_verdict() {
  local log=$1 status=$2 errors deliberate
  if (( status != 0 )); then
    echo "the test area failed under memcheck (exit $status)"
    return 1
  fi
  errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9][0-9]*\) error.*/\1/p' "$log" | tail -n 1)
  if [[ -z $errors ]]; then
    echo "memcheck printed no ERROR SUMMARY"
    return 1
  fi
  deliberate=$(grep -c '^========= Program hit cudaErrorMemoryAllocation' "$log")
  if (( errors > deliberate )); then
    echo "memcheck: $errors errors, of which $deliberate are the tests' deliberate out-of-memory calls"
    return 1
  fi
  if (( errors == 0 )); then
    echo "memcheck: no errors"
  else
    echo "memcheck: $errors errors, all of them the tests' deliberate out-of-memory calls"
  fi
}

step_memcheck() {
  sanitize memcheck
}

step_racecheck() {
  sanitize racecheck
}

step_synccheck() {
  sanitize synccheck
}

step_initcheck() {
  sanitize initcheck
}

# cuda_probe LIB: "N" when LIB sees N CUDA devices, or "0: why" from its error when it sees none.
cuda_probe() {
  python3 - "$1" <<'PY'
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.nrn_last_error.restype = ctypes.c_char_p
count = ctypes.c_int32(0)
lib.nrn_cuda_device_count(ctypes.byref(count))
if count.value > 0:
    print(count.value)
else:
    context = ctypes.c_void_p()
    lib.nrn_context_create(1, 0, ctypes.byref(context))  # NRN_BACKEND_CUDA, device 0: fails and says why
    print("0:", (lib.nrn_last_error() or b"").decode())
PY
}

# ---- run -------------------------------------------------------------------------------------
# The steps run in child shells under `timeout`, which see exported functions only.
export -f pack_fingerprint configure_gpu_build gemm_variants step_runtime step_gpu_info step_native_build step_native_tests step_nunit step_package step_pytorch step_bench step_products step_ncu \
  native_test_commands sanitize memcheck_verdict step_memcheck step_racecheck step_synccheck step_initcheck

# Most valuable first: the benchmark figures (which this run alone can give) right after the build,
# then the tests, memcheck and racecheck; when the budget runs short, synccheck and initcheck are
# cut first, then the profile.
run_step runtime 90 step_runtime
run_step gpu-info 30 step_gpu_info
run_step native-build 200 step_native_build
packed_lib="$root/.device/native-cuda118/libneuron.so"
if [[ -z ${GPU_CHECK_NATIVE_LIB:-} && -f "$packed_lib" ]]; then
  if [[ ! -f "$NATIVE_LIB" ]]; then
    NATIVE_LIB=$packed_lib
    echo "build-gpu/libneuron.so is missing: the managed steps use the packed CUDA 11.8 build"
  else
    # A library built against a runtime newer than the driver sees no device: say why, and fall
    # back to the packed build when that one sees the GPU.
    probe=$(cuda_probe "$NATIVE_LIB" 2>&1 | tail -n 1)
    echo "build-gpu/libneuron.so sees CUDA devices: $probe"
    if [[ $probe == 0* ]] && [[ $(cuda_probe "$packed_lib" 2>&1 | tail -n 1) != 0* ]]; then
      NATIVE_LIB=$packed_lib
      echo "the packed CUDA 11.8 build sees the GPU: the managed steps use it"
    fi
  fi
fi
run_step pytorch 90 step_pytorch
run_step bench 120 step_bench
run_step native-tests 90 step_native_tests
run_step products 70 step_products
run_step nunit 150 step_nunit
run_step package 30 step_package
run_step memcheck 90 step_memcheck
run_step racecheck 300 step_racecheck
run_step ncu 75 step_ncu
run_step synccheck 60 step_synccheck
run_step initcheck 90 step_initcheck

write_summary
bundle_logs
echo
cat "$out/summary.txt"
for s in "${step_status[@]}"; do
  [[ "$s" == pass ]] || exit 1
done
exit 0
