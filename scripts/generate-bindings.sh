#!/usr/bin/env bash
# Regenerates the P/Invoke layer of libneuron from its C header:
#   native/include/neuron.h  ->  src/NeuronInterop/Native/Generated/NeuronNative.g.cs
#
# Usage:
#   scripts/generate-bindings.sh           regenerate the checked-in file
#   scripts/generate-bindings.sh --check   regenerate into a temporary folder and fail (exit 1),
#                                          showing the difference, when the checked-in file is stale
# Any other arguments are passed on to the generator (see src/NeuronInterop.BindingGenerator/Program.cs),
# for instance --system-include <folder> where the compiler's stddef.h cannot be found.
# Builds into $NEURON_BINDINGS_ARTIFACTS (default: artifacts under the system temp folder).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

header="native/include/neuron.h"
output="src/NeuronInterop/Native/Generated/NeuronNative.g.cs"
project="src/NeuronInterop.BindingGenerator"
artifacts="${NEURON_BINDINGS_ARTIFACTS:-${TMPDIR:-/tmp}/neuron-binding-generator-$(id -u)}"

check=0
passthrough=()
for argument in "$@"; do
    case "$argument" in
        --check) check=1 ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) passthrough+=("$argument") ;;
    esac
done

generate() { # output file
    dotnet run --project "$project" -c Release --artifacts-path "$artifacts" -- \
        --header "$header" --output "$1" ${passthrough[@]+"${passthrough[@]}"}
}

if [[ $check -eq 0 ]]; then
    generate "$output"
    exit 0
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
generate "$scratch/NeuronNative.g.cs" >/dev/null
if [[ -f "$output" ]] && cmp -s "$scratch/NeuronNative.g.cs" "$output"; then
    echo "Bindings are up to date: $output"
    exit 0
fi

echo "Difference between $output (checked in) and a fresh generation:" >&2
if [[ -f "$output" ]]; then
    diff -u --label "$output (checked in)" --label "$output (generated)" "$output" "$scratch/NeuronNative.g.cs" | head -n 60 >&2 || true
else
    echo "  $output does not exist." >&2
fi
echo "Bindings are stale: run scripts/generate-bindings.sh" >&2
exit 1
