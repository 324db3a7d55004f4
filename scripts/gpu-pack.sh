#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on the GPU machine, which has no .NET, into the ignored
# folder .device/, which is copied to the GPU machine with the checkout (the two at most 64 MiB
# together, the copy's limit):
#   .device/dotnet-rt.tar.xz              the .NET runtime (dotnet host + Microsoft.NETCore.App), made once and reused
#   .device/dotnet-rt.version             that runtime's version, to know when the tarball can be reused
#   .device/app.tar.xz                    tests/  the NUnit test executable's build output (Microsoft.Testing.Platform)
#                                         cli/    the `neuron` command-line tool, framework-dependent, linux-x64
#                                         package-consumer/  tests/PackageConsumer published against the
#                                                 NuGet package (its libneuron.so left out: gpu-check.sh puts
#                                                 the fallback below in its place, the library a package
#                                                 packed with CUDA 11.8 carries)
#   .device/native-cuda118/libneuron.so   a fallback libneuron.so built here with CUDA 11.8 (sm_80, sm_90, compute_90 PTX)
#   .device/pack.fingerprint              a hash of the sources packed; gpu-check.sh refuses a stale pack
#   .device/MANIFEST                      what was packed, from which commit
# The managed build skips the native build (NeuronSkipNativeBuild=true): the GPU machine builds
# libneuron.so with its own nvcc and points NEURON_NATIVE_PATH at it.
#
# Usage: scripts/gpu-pack.sh            (from anywhere; about a minute when the runtime tarball exists)
# Environment: NEURON_PACK_WORK  scratch folder (default /tmp/neuron-gpu-pack)
#              NEURON_PACK_NO_CUDA=1  skip the fallback CUDA build
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
device_dir="$root/.device"
work=${NEURON_PACK_WORK:-/tmp/neuron-gpu-pack}
limit_mib=56   # leaves room for the checkout itself within the 64 MiB copied

log() { printf '[gpu-pack] %s\n' "$*" >&2; }

mkdir -p "$device_dir" "$work"

# ---- the .NET runtime ---------------------------------------------------------------------
runtime_line=$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" && $2 ~ /^10\./' | tail -n 1)
if [[ -z "$runtime_line" ]]; then
  log "no Microsoft.NETCore.App 10.x runtime found (dotnet --list-runtimes)"; exit 1
fi
runtime_version=$(awk '{print $2}' <<<"$runtime_line")
shared_dir=$(sed -E 's/.*\[(.*)\].*/\1/' <<<"$runtime_line")      # <root>/shared/Microsoft.NETCore.App
dotnet_root=$(dirname "$(dirname "$shared_dir")")
if [[ -f "$device_dir/dotnet-rt.tar.xz" && -f "$device_dir/dotnet-rt.version" \
      && "$(cat "$device_dir/dotnet-rt.version")" == "$runtime_version" ]]; then
  log "reusing .device/dotnet-rt.tar.xz (runtime $runtime_version)"
else
  log "packing the .NET runtime $runtime_version from $dotnet_root (about a minute)"
  tar cJf "$device_dir/dotnet-rt.tar.xz.tmp" -C "$dotnet_root" dotnet host shared/Microsoft.NETCore.App
  mv "$device_dir/dotnet-rt.tar.xz.tmp" "$device_dir/dotnet-rt.tar.xz"
  echo "$runtime_version" >"$device_dir/dotnet-rt.version"
fi

# ---- the managed build: test executable and CLI -------------------------------------------
stage="$work/stage"
rm -rf "$stage"
mkdir -p "$stage/tests" "$stage/cli"
msbuild_args=(-c Release --artifacts-path "$work/artifacts" -p:NeuronSkipNativeBuild=true -nologo -v:q)

log "building the test project (Release)"
dotnet build tests/NeuronInterop.Tests "${msbuild_args[@]}"
tests_out="$work/artifacts/bin/NeuronInterop.Tests/release_linux-x64"
[[ -f "$tests_out/NeuronInterop.Tests.dll" ]] || { log "no test build output in $tests_out"; exit 1; }
cp -a "$tests_out/." "$stage/tests/"

log "publishing the CLI (framework-dependent, linux-x64)"
dotnet publish src/NeuronInterop.Cli "${msbuild_args[@]}" -r linux-x64 --self-contained false -o "$stage/cli"

log "publishing the package consumer against the NuGet package"
version=$(dotnet msbuild src/NeuronInterop -getProperty:Version)
rm -rf "$work/feed" "$work/packages"
dotnet pack src/NeuronInterop "${msbuild_args[@]}" -o "$work/feed"
dotnet publish tests/PackageConsumer -c Release -r linux-x64 --self-contained false -o "$stage/package-consumer" \
  -p:NeuronPackageFeed="$work/feed" -p:NeuronPackageVersion="$version" -p:RestorePackagesPath="$work/packages" -nologo -v:q

# Trim what the GPU run does not need: symbols, XML docs, satellite resource folders.
find "$stage" \( -name '*.pdb' -o -name '*.xml' \) -delete
find "$stage" -mindepth 2 -maxdepth 2 -type d -regextype posix-extended \
     -regex '.*/[a-z]{2}(-[A-Za-z]{2,4})?' -exec rm -rf {} +
# A libneuron.so picked up from a local build must not shadow NEURON_NATIVE_PATH there.
find "$stage" -name 'libneuron.so*' -delete

log "compressing the managed outputs"
tar cJf "$device_dir/app.tar.xz.tmp" -C "$stage" tests cli package-consumer
mv "$device_dir/app.tar.xz.tmp" "$device_dir/app.tar.xz"

# ---- a fallback libneuron.so built with this machine's CUDA ------------------------------
rm -rf "$device_dir/native-cuda118"
if [[ "${NEURON_PACK_NO_CUDA:-0}" != 1 ]] && command -v nvcc >/dev/null; then
  log "building the fallback libneuron.so with $(nvcc --version | grep -o 'release [0-9.]*')"
  cuda_build="$work/build-cuda"
  if cmake -S "$root" -B "$cuda_build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNEURON_CUDA=ON -DBUILD_TESTING=OFF \
        "-DCMAKE_CUDA_ARCHITECTURES=80-real;90-real;90-virtual" >"$work/cuda-configure.log" 2>&1 \
     && cmake --build "$cuda_build" --target neuron >"$work/cuda-build.log" 2>&1; then
    mkdir -p "$device_dir/native-cuda118"
    cp -L "$cuda_build/libneuron.so" "$device_dir/native-cuda118/libneuron.so"
    strip --strip-unneeded "$device_dir/native-cuda118/libneuron.so" || true
  else
    # The package step needs it: a pack without it would spend GPU time on a step sure to fail.
    log "error: the fallback CUDA build failed (see $work/cuda-configure.log, $work/cuda-build.log)"
    exit 1
  fi
else
  log "no fallback CUDA build (nvcc not found or NEURON_PACK_NO_CUDA=1)"
fi

# ---- manifest and size check ---------------------------------------------------------------
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
# What the packed managed outputs were built from; scripts/gpu-check.sh recomputes it there
# (where git may be absent) and refuses a pack older than the checkout it is copied with.
(cd "$root" && bash scripts/gpu-check.sh --pack-fingerprint) >"$device_dir/pack.fingerprint"
dirty=$(git -C "$root" status --porcelain 2>/dev/null | grep -c . || true)
{
  echo "packed:   $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit:   $commit (+$dirty uncommitted changes)"
  echo "runtime:  Microsoft.NETCore.App $runtime_version"
  echo "fallback: $([[ -f "$device_dir/native-cuda118/libneuron.so" ]] && echo 'native-cuda118/libneuron.so' || echo none)"
  echo "sources:  $(cat "$device_dir/pack.fingerprint")"
  (cd "$device_dir" && find . -type f ! -name MANIFEST -printf '%s\t%p\n' | sort -k2)
} >"$device_dir/MANIFEST"

total_kib=$(du -sk "$device_dir" | cut -f1)
tree_kib=$( (git ls-files -z --cached --others --exclude-standard | xargs -0 -r du -ck 2>/dev/null | tail -n 1 | cut -f1) || echo 0)
log "packed .device: $((total_kib / 1024)) MiB; checkout copied with it: $((tree_kib / 1024)) MiB"
du -sh "$device_dir"/* >&2
if (( total_kib > limit_mib * 1024 )); then
  log "error: .device is over ${limit_mib} MiB"; exit 1
fi
if (( total_kib + tree_kib > 64 * 1024 )); then
  log "error: .device and the checkout together exceed 64 MiB"; exit 1
fi
log "done; copy .device with the checkout to the GPU machine and run scripts/gpu-check.sh there"
