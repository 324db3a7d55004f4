#!/usr/bin/env bash
# Packs the NeuronInterop NuGet package and checks it as a user's project sees it:
# tests/PackageConsumer restores it from a folder feed, into a packages folder of its own (so that
# no earlier package of the same version is taken from the NuGet cache), and runs twice:
#   - `dotnet run` (no runtime identifier: libneuron.so stays under runtimes/linux-x64/native/);
#   - `dotnet publish -r linux-x64` (libneuron.so beside the program).
# Each run checks that the library loaded is the package's, of its version, and that it trains
# (tests/PackageConsumer/Program.cs).
#
# Usage: scripts/package-check.sh [FOLDER]   (default: build-package; the package lands in FOLDER/feed)
# The package carries the library that building src/NeuronInterop makes (build-dotnet/native):
# with CUDA kernels when nvcc was found there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(mkdir -p "${1:-build-package}" && cd "${1:-build-package}" && pwd)"
consumer=tests/PackageConsumer

if [[ -n ${NEURON_NATIVE_PATH:-} ]]; then
    echo "NEURON_NATIVE_PATH is set: it is unset for these runs, which check the package's own library."
    unset NEURON_NATIVE_PATH
fi

rm -rf "$work/feed" "$work/packages" "$work/published" "$consumer/bin" "$consumer/obj"
dotnet pack src/NeuronInterop -c Release -o "$work/feed" --nologo
version=$(dotnet msbuild src/NeuronInterop -getProperty:Version)
echo "packed: $(cd "$work/feed" && ls NeuronInterop.*.nupkg) (version $version)"

properties=(-p:NeuronPackageFeed="$work/feed" -p:NeuronPackageVersion="$version"
            -p:RestorePackagesPath="$work/packages")

echo "--- dotnet run (runtimes/linux-x64/native/ layout)"
dotnet run --project "$consumer" -c Release "${properties[@]}"

echo "--- dotnet publish -r linux-x64 (library beside the program)"
dotnet publish "$consumer" -c Release -r linux-x64 --self-contained false -o "$work/published" --nologo \
    "${properties[@]}" >/dev/null
dotnet "$work/published/PackageConsumer.dll"
