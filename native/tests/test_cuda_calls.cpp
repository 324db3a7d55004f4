// What the fast training path asks of the CUDA runtime per step, counted on the CUDA emulator
// (built into the emulated test executable only): once warmed up, training enqueues kernel
// launches and nothing else, i.e. no allocation, copy or synchronisation per step; small
// layers take one launch per step, and a device-resident run of many steps on a small layer
// one launch in all. The test runs this executable again with NEURON_CUDA_EMULATOR_TRACE=1,
// which logs every launch and runtime call on stderr, and counts the lines between marks. The
// same trace shows which kernels each training path and product takes, and that the area the
// GPU check's sanitizers run launches every kernel.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "harness.h"

using namespace test;

namespace {

constexpr const char* kScenarioVariable = "NEURON_TEST_CUDA_CALLS_SCENARIO";

struct Layer {
    int64_t rows, batch, in, out;
};

// Trains `layer` on the CUDA device: a warm-up call first (it may allocate the scratch), then,
// between the marks, `calls` calls of `steps_per_call` steps each.
void train_between_marks(const Layer& layer, int calls, int64_t steps_per_call) {
    std::mt19937_64 rng(3);
    Context context(NRN_BACKEND_CUDA);
    Tensor x(context, {layer.rows, layer.in}, random_values(rng, layer.rows * layer.in)),
        t(context, {layer.rows, layer.out}, random_values(rng, layer.rows * layer.out)),
        w(context, {layer.in, layer.out}, random_values(rng, layer.in * layer.out)),
        b(context, {layer.out}, random_values(rng, layer.out)), error(context, {1}),
        accumulator(context, {NRN_ACCUMULATOR_SIZE});
    REQUIRE_OK(nrn_accumulator_reset(context, accumulator));
    int64_t step = 0;
    auto train = [&](int64_t steps) {
        REQUIRE_OK(nrn_linear_mse_sgd_train(context, x, t, w, b, 1e-3f, layer.batch, step, steps, NRN_ORDER_SHUFFLE,
                                            7, error, accumulator));
        step += steps;
    };
    train(steps_per_call);
    REQUIRE_OK(nrn_context_synchronize(context));
    std::fprintf(stderr, "cuda emulator: mark begin\n");
    for (int i = 0; i < calls; ++i) train(steps_per_call);
    std::fprintf(stderr, "cuda emulator: mark end\n");
    REQUIRE_OK(nrn_context_synchronize(context));
}

// Runs `scenario` in a child process with the trace on; returns how many launches of each
// kernel, and calls of each runtime function, it made between the marks ("" when none).
std::map<std::string, int> count_between_marks(const std::string& scenario) {
    std::map<std::string, int> counts;
    int status = 0;
    const auto lines = rerun_area(
        "cuda_calls", std::string("NEURON_CUDA_EMULATOR_TRACE=1 ") + kScenarioVariable + "=" + scenario, false, status);
    const std::string launch = "cuda emulator: launch ", call = "cuda emulator: call ";
    auto starts = [](const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; };
    // The name after `prefix`, up to the first `end`.
    auto name_after = [](const std::string& text, const std::string& prefix, char end) {
        return text.substr(prefix.size(), text.find(end, prefix.size()) - prefix.size());
    };
    bool inside = false, ended = false;
    for (const std::string& text : lines) {
        if (starts(text, "cuda emulator: mark begin")) inside = true;
        else if (starts(text, "cuda emulator: mark end")) inside = false, ended = true;
        else if (!inside) continue;
        else if (starts(text, launch)) ++counts["launch " + name_after(text, launch, ':')];
        else if (starts(text, call)) ++counts[name_after(text, call, '(')];
        else ++counts["other: " + text];
    }
    if (!ended || status != 0) counts["the scenario did not finish (exit status " + std::to_string(status) + ")"] = 1;
    return counts;
}

// Layers on either side of each bound of train.cu's choose_path, with the kernels one step of
// each launches: the one-warp path up to 4 → 4 and 64 multiply-adds a step (1 → 1 on 64 rows,
// 4 → 4 on 4), the one-block path up to 48 KiB of shared memory in all (1 → 1 on 11,934 rows)
// and up to 65,536 multiply-adds a step (16 → 16 on 256 rows), the rows path up to 4 → 4, and
// the general path past those. Results agree across paths, so only the launches tell them apart;
// and every_training_path_matches_host (test_cuda.cpp) runs the warp path's largest layers, the
// block path's largest and the 4 → 4 rows layer here,
// so these also keep it testing the paths it says it does.
struct PathBound {
    const char* scenario;
    Layer layer;
    const char* path;  // "warp", "block", "rows" or "general"
};
const PathBound kPathBounds[] = {
    {"warp-1-1", {64, 64, 1, 1}, "warp"},
    {"block-past-warp-1-1", {65, 65, 1, 1}, "block"},
    {"warp-4-4", {4, 4, 4, 4}, "warp"},
    {"block-past-warp-4-4", {5, 5, 4, 4}, "block"},
    {"block-past-warp-features", {1, 1, 5, 1}, "block"},
    {"block-shared-memory", {11934, 11934, 1, 1}, "block"},
    {"rows-past-shared-memory", {11935, 11935, 1, 1}, "rows"},
    {"block-multiply-adds", {256, 256, 16, 16}, "block"},
    {"general-past-multiply-adds", {257, 257, 16, 16}, "general"},
    {"rows-4-4", {90000, 20000, 4, 4}, "rows"},
    {"general-5-4", {90000, 20000, 5, 4}, "general"},
    {"general-4-5", {90000, 20000, 4, 5}, "general"},
};

// The forward product through a transposed copy of W (gemm.cu's nn_faster_through_transpose):
// on the 128 x 128 tiles (128 output tiles or more) from 1,024 rows up.
struct ForwardBound {
    const char* scenario;
    Layer layer;
    bool transposed;
    const char* forward;  // the forward product's kernel
};
const ForwardBound kForwardBounds[] = {
    {"forward-transposed", {1024, 1024, 8, 2048}, true, "gemm_kernel<NT, 128 x 128, float4>"},       // 8 x 16 large tiles
    {"forward-below-1024-rows", {1023, 1023, 8, 2048}, false, "gemm_kernel<NN, 128 x 128, float4>"},  // 8 x 16 large tiles
    {"forward-small-tiles", {1024, 1024, 8, 1920}, false, "gemm_kernel<NN, 64 x 64, float4>"},  // 8 x 15: the small ones
};

// Forward products that would go through a transposed W (1,024 rows, 8 → 2,048) on a device with no
// memory left: a warm-up, then three between the marks.
void forwards_on_a_full_device() {
    std::mt19937_64 rng(4);
    Context context(NRN_BACKEND_CUDA);
    Tensor x(context, {1024, 8}, random_values(rng, 1024 * 8)), w(context, {8, 2048}, random_values(rng, 8 * 2048)),
        y(context, {1024, 2048});
    setenv("NEURON_CUDA_EMULATOR_MEMORY", "1", 1);
    REQUIRE_OK(nrn_linear_forward(context, x, w, nullptr, y));
    REQUIRE_OK(nrn_context_synchronize(context));
    std::fprintf(stderr, "cuda emulator: mark begin\n");
    for (int i = 0; i < 3; ++i) REQUIRE_OK(nrn_linear_forward(context, x, w, nullptr, y));
    std::fprintf(stderr, "cuda emulator: mark end\n");
    REQUIRE_OK(nrn_context_synchronize(context));
    unsetenv("NEURON_CUDA_EMULATOR_MEMORY");
}

// How many launches in `counts` name a kernel that begins with `prefix`.
int launches_named(const std::map<std::string, int>& counts, const std::string& prefix) {
    int launches = 0;
    for (const auto& [what, count] : counts)
        if (what.rfind(prefix, 0) == 0) launches += count;
    return launches;
}

std::string describe(const std::map<std::string, int>& counts) {
    std::string text;
    for (const auto& [what, count] : counts) text += (text.empty() ? "" : ", ") + what + " × " + std::to_string(count);
    return text.empty() ? "nothing" : text;
}

}  // namespace

TEST_CASE(cuda_calls, training_steps_only_launch_kernels) {
    if (const char* scenario = std::getenv(kScenarioVariable)) {
        // The child: the tutorial's layer (1 → 1, 1,000 points, batch 1) one step per call as a
        // trainer with a batch callback runs it, and the same as one device-resident call; a
        // 1 → 1 layer with large batches (two launches per step); a 64 → 48 layer (the tiled
        // general path).
        const std::string name = scenario;
        if (name == "tutorial-steps") train_between_marks({1000, 1, 1, 1}, 50, 1);
        if (name == "tutorial-resident") train_between_marks({1000, 1, 1, 1}, 1, 5000);
        if (name == "rows") train_between_marks({150000, 70000, 1, 1}, 1, 6);
        if (name == "general") train_between_marks({3000, 1024, 64, 48}, 1, 4);
        for (const PathBound& bound : kPathBounds)
            if (name == bound.scenario) train_between_marks(bound.layer, 1, 1);
        for (const ForwardBound& bound : kForwardBounds)
            if (name == bound.scenario) train_between_marks(bound.layer, 1, 1);
        if (name == "forward-on-a-full-device") forwards_on_a_full_device();
        return;
    }

    const auto steps = count_between_marks("tutorial-steps");
    CHECK_MSG(steps == (std::map<std::string, int>{{"launch train_warp_kernel<1, 1>", 50}}),
              "50 tutorial steps, one call each: " << describe(steps));
    const auto resident = count_between_marks("tutorial-resident");
    CHECK_MSG(resident == (std::map<std::string, int>{{"launch train_warp_kernel<1, 1>", 1}}),
              "5,000 tutorial steps in one call: " << describe(resident));
    const auto rows = count_between_marks("rows");
    CHECK_MSG(rows == (std::map<std::string, int>{{"launch train_rows_finalize_kernel<1, 1>", 6},
                                                  {"launch train_rows_kernel<1, 1>", 6}}),
              "6 steps of 1 → 1 on batches of 70,000: " << describe(rows));
    // The general path: a fixed set of launches per step, whatever the kernels.
    const auto general = count_between_marks("general");
    int launches = 0;
    bool only_launches = true;
    for (const auto& [what, count] : general) {
        if (what.rfind("launch ", 0) == 0) launches += count;
        else only_launches = false;
        CHECK_MSG(what.rfind("launch ", 0) != 0 || count % 4 == 0, "4 general steps: " << describe(general));
    }
    CHECK_MSG(only_launches && launches >= 4 && launches <= 4 * 6, "4 general steps: " << describe(general));
}

TEST_CASE(cuda_calls, each_training_path_is_taken_up_to_its_bounds) {
    if (std::getenv(kScenarioVariable)) return;  // the child runs the scenarios above
    for (const PathBound& bound : kPathBounds) {
        const auto counts = count_between_marks(bound.scenario);
        const std::string path = bound.path;
        const Layer& l = bound.layer;
        // The warp and rows kernels' instantiation for the layer: 1 → 1, or up to 4 → 4.
        const std::string sizes = l.in == 1 && l.out == 1 ? "<1, 1>" : "<4, 4>";
        bool expected = false;
        if (path == "warp") {
            expected = counts == std::map<std::string, int>{{"launch train_warp_kernel" + sizes, 1}};
        } else if (path == "block") {
            expected = counts == std::map<std::string, int>{{"launch train_block_kernel", 1}};
        } else if (path == "rows") {
            expected = counts == std::map<std::string, int>{{"launch train_rows_finalize_kernel" + sizes, 1},
                                                            {"launch train_rows_kernel" + sizes, 1}};
        } else {
            expected = launches_named(counts, "launch gemm_kernel<") >= 1;
            for (const auto& [what, count] : counts) expected = expected && what.rfind("launch train_", 0) != 0;
        }
        CHECK_MSG(expected, "one step of " << l.in << " → " << l.out << " on batches of " << l.batch << " rows takes the "
                                           << path << " path: " << describe(counts));
    }
}

// A machine whose driver is older than the CUDA runtime has no usable device either, but saying
// only that would hide the cure: the error names what the runtime reported. (The emulator reads
// NEURON_CUDA_EMULATOR_DEVICES on every cudaGetDeviceCount.)
TEST_CASE(cuda_calls, why_no_device_is_usable_is_said) {
    struct Restore {
        ~Restore() { unsetenv("NEURON_CUDA_EMULATOR_DEVICES"); }
    } restore;
    nrn_context* context = nullptr;
    int32_t count = -1;

    setenv("NEURON_CUDA_EMULATOR_DEVICES", "old-driver", 1);
    REQUIRE_OK(nrn_cuda_device_count(&count));
    CHECK(count == 0);
    CHECK_FAILS(NRN_STATUS_DEVICE_UNAVAILABLE, "nrn_context_create", nrn_context_create(NRN_BACKEND_CUDA, 0, &context));
    const std::string old_driver = nrn_last_error();
    CHECK_MSG(old_driver.find("0 usable CUDA devices; the CUDA runtime says cudaErrorInsufficientDriver: CUDA driver "
                              "version is insufficient") != std::string::npos,
              old_driver);

    // No device at all: nothing more to say than that.
    setenv("NEURON_CUDA_EMULATOR_DEVICES", "none", 1);
    CHECK_FAILS(NRN_STATUS_DEVICE_UNAVAILABLE, "nrn_context_create", nrn_context_create(NRN_BACKEND_CUDA, 0, &context));
    const std::string none = nrn_last_error();
    CHECK_MSG(none.find("(0 usable CUDA devices)") != std::string::npos, none);
    CHECK(context == nullptr);
}

TEST_CASE(cuda_calls, the_forward_goes_through_a_transposed_weight_from_its_bounds) {
    if (std::getenv(kScenarioVariable)) return;  // the child runs the scenarios above
    for (const ForwardBound& bound : kForwardBounds) {
        const auto counts = count_between_marks(bound.scenario);
        const int transposes = launches_named(counts, "launch transpose_kernel");
        const Layer& l = bound.layer;
        CHECK_MSG(transposes == (bound.transposed ? 1 : 0) && counts.count(std::string("launch ") + bound.forward) == 1,
                  "one step of " << l.in << " → " << l.out << " on batches of " << l.batch << " rows "
                                 << (bound.transposed ? "transposes" : "does not transpose") << " W and runs the "
                                 << "forward on " << bound.forward << ": " << describe(counts));
    }
}

// A device without room for W's copy refuses it once: the products after that go without it at
// no cost, with no synchronisation or allocation attempt per call.
TEST_CASE(cuda_calls, a_refused_transposed_weight_is_not_asked_for_again) {
    if (std::getenv(kScenarioVariable)) return;  // the child runs the scenarios above
    const auto counts = count_between_marks("forward-on-a-full-device");
    CHECK_MSG(counts == (std::map<std::string, int>{{"launch gemm_kernel<NN, 128 x 128, float4>", 3}}),
              "3 forward products on a full device: " << describe(counts));
}

// The area that compute-sanitizer's racecheck, synccheck and initcheck check on a GPU
// (cuda_each_kernel, in test_cuda_each_kernel.cpp) must launch every kernel of the library in each
// of its forms: the twelve GEMM instantiations (layout, tile, float4 or single-float loads), each
// layout split along K, the one-block training kernel on one warp (no block reduction) and on
// several, the warp and rows kernels for 1 → 1 and up to 4 → 4. Its shapes sit just past the
// planners' bounds, so a bound that moves can take a kernel out of it; this says which. (A new
// kernel belongs in both lists.)
TEST_CASE(cuda_calls, the_each_kernel_area_launches_every_kernel) {
    if (std::getenv(kScenarioVariable)) return;  // the child runs the scenarios above
    int status = 0;
    const auto lines = rerun_area("cuda_each_kernel", "NEURON_CUDA_EMULATOR_TRACE=1", false, status);
    CHECK_MSG(status == 0, "the cuda_each_kernel area failed (exit status " << status << ")");
    std::set<std::string> launched;
    const std::string launch = "cuda emulator: launch ";
    for (const std::string& line : lines) {
        if (line.rfind(launch, 0) != 0) continue;
        const size_t colon = line.find(':', launch.size());
        const std::string name = line.substr(launch.size(), colon - launch.size());
        unsigned grid[3] = {}, block[3] = {};
        if (std::sscanf(line.c_str() + colon, ": grid (%u, %u, %u), block (%u, %u, %u)", &grid[0], &grid[1], &grid[2],
                        &block[0], &block[1], &block[2]) != 6) {
            CHECK_MSG(false, "unreadable launch: " << line);
            continue;
        }
        launched.insert(name);
        if (name.rfind("gemm_kernel<", 0) == 0 && grid[2] > 1) launched.insert(name.substr(0, 14) + "> split along K");
        if (name == "train_block_kernel") launched.insert(block[0] == 32 ? "train_block_kernel on one warp"
                                                                         : "train_block_kernel on several warps");
    }
    std::vector<std::string> expected = {"fill_kernel",
                                         "fill_uniform_kernel",
                                         "fill_normal_kernel",
                                         "sgd_update_kernel",
                                         "mse_kernel",
                                         "error_finalize_kernel",
                                         "split_reduce_kernel",
                                         "transpose_kernel",
                                         "column_sum_partial_kernel",
                                         "train_block_kernel on one warp",
                                         "train_block_kernel on several warps"};
    for (const char* sizes : {"<1, 1>", "<4, 4>"})
        for (const char* kernel : {"train_warp_kernel", "train_rows_kernel", "train_rows_finalize_kernel"})
            expected.push_back(kernel + std::string(sizes));
    for (const char* layout : {"NN", "NT", "TN"}) {
        for (const char* tile : {"64 x 64", "128 x 128"})
            for (const char* loads : {"float", "float4"})
                expected.push_back(std::string("gemm_kernel<") + layout + ", " + tile + ", " + loads + ">");
        expected.push_back(std::string("gemm_kernel<") + layout + "> split along K");
    }
    for (const std::string& kernel : expected)
        CHECK_MSG(launched.count(kernel) == 1, "cuda_each_kernel launches no " << kernel);
}
