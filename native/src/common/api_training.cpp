// The C API's entry points for training (neuron.h): the Linear layer's forward and backward
// passes, the mean squared error and its accumulator, the SGD update, the fused training steps
// and their batch schedule.
//
// Each runs inside guard() (api_errors.h), looks its handles up in the registry
// (handle_registry.h) and checks all its arguments (api_check.h) before it touches any memory,
// so that a failed call changes nothing. The definitions keep the C linkage of their
// declarations in neuron.h.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>

#include "accumulator.h"
#include "api_check.h"
#include "api_errors.h"
#include "api_handles.h"
#include "backend.h"
#include "handle_registry.h"
#include "neuron.h"
#include "random.h"

using namespace nrn::detail;

// ---------------------------------------------------------------------------------------
// Linear layer
// ---------------------------------------------------------------------------------------

nrn_status nrn_linear_forward(nrn_context* context, const nrn_tensor* input, const nrn_tensor* weight,
                              const nrn_tensor* bias, nrn_tensor* output) {
    return guard("nrn_linear_forward", [&] {
        const Check check("nrn_linear_forward");
        ContextRef ctx;
        TensorRef x, w, b, y;
        CallLock call = registry().lookup(check, std::tie(ctx, x, w, b, y), context,
            Required{input, "input"}, Required{weight, "weight"}, Optional{bias, "bias"}, Required{output, "output"});
        check.all_on(ctx, {{x, "input"}, {w, "weight"}, {b, "bias"}, {y, "output"}});
        const auto [batch, in, out] = check.linear(x, w, "batch");
        check.bias(b, "bias", out, w);
        check.shape2(y, "output", batch, out, "input rows x weight columns");
        check.all_distinct({{y, "output"}}, {{x, "input"}, {w, "weight"}, {b, "bias"}});
        call.lock();
        ctx->backend->linear_forward(x->data(), w->data(), b ? b->data() : nullptr, y->data(), batch, in, out);
    });
}

nrn_status nrn_linear_backward(nrn_context* context, const nrn_tensor* input, const nrn_tensor* weight,
                               const nrn_tensor* output_grad, nrn_tensor* input_grad, nrn_tensor* weight_grad,
                               nrn_tensor* bias_grad, nrn_grad_mode mode) {
    return guard("nrn_linear_backward", [&] {
        const Check check("nrn_linear_backward");
        ContextRef ctx;
        TensorRef x, w, gy, gx, gw, gb;
        CallLock call = registry().lookup(check, std::tie(ctx, x, w, gy, gx, gw, gb), context,
            Required{input, "input"}, Required{weight, "weight"}, Required{output_grad, "output_grad"},
            Optional{input_grad, "input_grad"}, Optional{weight_grad, "weight_grad"},
            Optional{bias_grad, "bias_grad"});
        check.all_on(ctx, {{x, "input"}, {w, "weight"}, {gy, "output_grad"}, {gx, "input_grad"},
                           {gw, "weight_grad"}, {gb, "bias_grad"}});
        const int mode_value = enum_value(mode);
        check.require(mode_value == NRN_GRAD_OVERWRITE || mode_value == NRN_GRAD_ACCUMULATE,
                      NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "mode " + std::to_string(mode_value) + " is not NRN_GRAD_OVERWRITE or NRN_GRAD_ACCUMULATE";
        });
        const auto [batch, in, out] = check.linear(x, w, "batch");
        check.shape2(gy, "output_grad", batch, out, "input rows x weight columns");
        check.shape2(gx, "input_grad", batch, in, "the shape of input");
        check.shape2(gw, "weight_grad", in, out, "the shape of weight");
        check.bias(gb, "bias_grad", out, w);
        check.all_distinct({{gx, "input_grad"}, {gw, "weight_grad"}, {gb, "bias_grad"}},
                           {{x, "input"}, {w, "weight"}, {gy, "output_grad"}});
        call.lock();
        ctx->backend->linear_backward(x->data(), w->data(), gy->data(), gx ? gx->data() : nullptr,
                                      gw ? gw->data() : nullptr, gb ? gb->data() : nullptr, batch, in, out,
                                      mode == NRN_GRAD_ACCUMULATE);
    });
}

// ---------------------------------------------------------------------------------------
// Mean squared error
// ---------------------------------------------------------------------------------------

nrn_status nrn_mse(nrn_context* context, const nrn_tensor* prediction, const nrn_tensor* target, nrn_tensor* grad,
                   nrn_tensor* error, nrn_tensor* accumulator) {
    return guard("nrn_mse", [&] {
        const Check check("nrn_mse");
        ContextRef ctx;
        TensorRef p, t, g, e, a;
        CallLock call = registry().lookup(check, std::tie(ctx, p, t, g, e, a), context,
            Required{prediction, "prediction"}, Required{target, "target"}, Optional{grad, "grad"},
            Optional{error, "error"}, Optional{accumulator, "accumulator"});
        check.all_on(ctx, {{p, "prediction"}, {t, "target"}, {g, "grad"}, {e, "error"}, {a, "accumulator"}});
        auto same_shape = [](const nrn_tensor& u, const nrn_tensor& v) {
            return u.ndim == v.ndim && std::equal(u.shape, u.shape + u.ndim, v.shape);
        };
        check.require(same_shape(*p, *t), NRN_STATUS_SHAPE_MISMATCH, [&] {
            return "prediction is " + shape_text(*p) + " but target is " + shape_text(*t) + " (shapes must be equal)";
        });
        check.require(!g || same_shape(*p, *g), NRN_STATUS_SHAPE_MISMATCH, [&] {
            return "prediction is " + shape_text(*p) + " but grad is " + (g ? shape_text(*g) : "") +
                   " (shapes must be equal)";
        });
        check.elements(e, "error", 1, "one float");
        check.elements(a, "accumulator", NRN_ACCUMULATOR_SIZE, "NRN_ACCUMULATOR_SIZE floats");
        check.all_distinct({{g, "grad"}, {e, "error"}, {a, "accumulator"}}, {{p, "prediction"}, {t, "target"}});
        call.lock();
        ctx->backend->mse(p->data(), t->data(), g ? g->data() : nullptr, e ? e->data() : nullptr,
                          a ? a->data() : nullptr, p->count, p->shape[0]);
    });
}

nrn_status nrn_accumulator_reset(nrn_context* context, nrn_tensor* accumulator) {
    return guard("nrn_accumulator_reset", [&] {
        const Check check("nrn_accumulator_reset");
        ContextRef ctx;
        TensorRef a;
        CallLock call = registry().lookup(check, std::tie(ctx, a), context, Required{accumulator, "accumulator"});
        check.on(ctx, a, "accumulator");
        check.elements(a, "accumulator", NRN_ACCUMULATOR_SIZE, "NRN_ACCUMULATOR_SIZE floats");
        call.lock();
        ctx->backend->fill(a->data(), NRN_ACCUMULATOR_SIZE, 0.0f);
    });
}

nrn_status nrn_accumulator_read(nrn_context* context, const nrn_tensor* accumulator, double* error_sum,
                                double* sample_count) {
    return guard("nrn_accumulator_read", [&] {
        const Check check("nrn_accumulator_read");
        ContextRef ctx;
        TensorRef a;
        CallLock call = registry().lookup(check, std::tie(ctx, a), context, Required{accumulator, "accumulator"});
        check.on(ctx, a, "accumulator");
        check.elements(a, "accumulator", NRN_ACCUMULATOR_SIZE, "NRN_ACCUMULATOR_SIZE floats");
        check.not_null(error_sum, "error_sum");
        check.not_null(sample_count, "sample_count");
        float values[NRN_ACCUMULATOR_SIZE];
        call.lock();
        ctx->backend->copy_to_host(values, a->data(), NRN_ACCUMULATOR_SIZE, false);
        nrn::accumulator_totals(values, error_sum, sample_count);
    });
}

// ---------------------------------------------------------------------------------------
// SGD and fused training
// ---------------------------------------------------------------------------------------

nrn_status nrn_sgd_update(nrn_context* context, nrn_tensor* param, const nrn_tensor* grad, float learning_rate) {
    return guard("nrn_sgd_update", [&] {
        const Check check("nrn_sgd_update");
        ContextRef ctx;
        TensorRef p, g;
        CallLock call = registry().lookup(check, std::tie(ctx, p, g), context, Required{param, "param"}, Required{grad, "grad"});
        check.on(ctx, p, "param");
        check.on(ctx, g, "grad");
        check.require(p->count == g->count, NRN_STATUS_SHAPE_MISMATCH, [&] {
            return "param is " + shape_text(*p) + " but grad is " + shape_text(*g) +
                   " (element counts must be equal)";
        });
        check.finite_rate(learning_rate);
        check.distinct(p, "param", g, "grad");
        call.lock();
        ctx->backend->sgd_update(p->data(), g->data(), p->count, learning_rate);
    });
}

namespace {

// The context and tensors of a fused call (Registry::lookup), and the call's lock of the context,
// declared last so that it is released first (CallLock).
struct TrainTensors {
    ContextRef ctx;
    TensorRef x, t, w, b, e, a;
    CallLock call;
};

void lookup_train(TrainTensors& h, const Check& check, const nrn_context* context, const nrn_tensor* input,
                  const nrn_tensor* target, const nrn_tensor* weight, const nrn_tensor* bias,
                  const nrn_tensor* error, const nrn_tensor* accumulator) {
    h.call = registry().lookup(check, std::tie(h.ctx, h.x, h.t, h.w, h.b, h.e, h.a), context,
        Required{input, "input"}, Required{target, "target"}, Required{weight, "weight"},
        Optional{bias, "bias"}, Optional{error, "error"}, Optional{accumulator, "accumulator"});
}

// The checks shared by the fused step and the fused training run; fills everything but the batch
// schedule (batch_size, first_step, step_count, order and seed).
nrn::TrainArgs check_train(const Check& check, const TrainTensors& h, float learning_rate) {
    const ContextRef& ctx = h.ctx;
    const TensorRef &x = h.x, &t = h.t, &w = h.w, &b = h.b, &e = h.e, &a = h.a;
    check.all_on(ctx, {{x, "input"}, {t, "target"}, {w, "weight"}, {b, "bias"}, {e, "error"}, {a, "accumulator"}});
    const auto [rows, in, out] = check.linear(x, w, "rows");
    check.shape2(t, "target", rows, out, "input rows x weight columns");
    check.bias(b, "bias", out, w);
    check.elements(e, "error", 1, "one float");
    check.elements(a, "accumulator", NRN_ACCUMULATOR_SIZE, "NRN_ACCUMULATOR_SIZE floats");
    check.finite_rate(learning_rate);
    check.all_distinct({{w, "weight"}, {b, "bias"}, {e, "error"}, {a, "accumulator"}}, {{x, "input"}, {t, "target"}});
    nrn::TrainArgs args{};
    args.input = x->data();
    args.target = t->data();
    args.weight = w->data();
    args.bias = b ? b->data() : nullptr;
    args.rows = rows;
    args.in_features = in;
    args.out_features = out;
    args.learning_rate = learning_rate;
    args.error = e ? e->data() : nullptr;
    args.accumulator = a ? a->data() : nullptr;
    return args;
}

}  // namespace

nrn_status nrn_linear_mse_sgd_step(nrn_context* context, const nrn_tensor* input, const nrn_tensor* target,
                                   nrn_tensor* weight, nrn_tensor* bias, float learning_rate, nrn_tensor* error,
                                   nrn_tensor* accumulator) {
    return guard("nrn_linear_mse_sgd_step", [&] {
        const Check check("nrn_linear_mse_sgd_step");
        TrainTensors held;
        lookup_train(held, check, context, input, target, weight, bias, error, accumulator);
        const ContextRef& ctx = held.ctx;
        nrn::TrainArgs args = check_train(check, held, learning_rate);
        args.batch_size = args.rows;
        args.first_step = 0;
        args.step_count = 1;
        args.order = NRN_ORDER_SEQUENTIAL;
        args.seed = 0;
        held.call.lock();
        ctx->backend->linear_mse_sgd_train(args);
    });
}

nrn_status nrn_linear_mse_sgd_train(nrn_context* context, const nrn_tensor* input, const nrn_tensor* target,
                                    nrn_tensor* weight, nrn_tensor* bias, float learning_rate, int64_t batch_size,
                                    int64_t first_step, int64_t step_count, nrn_batch_order order, uint64_t seed,
                                    nrn_tensor* error, nrn_tensor* accumulator) {
    return guard("nrn_linear_mse_sgd_train", [&] {
        const Check check("nrn_linear_mse_sgd_train");
        TrainTensors held;
        lookup_train(held, check, context, input, target, weight, bias, error, accumulator);
        const ContextRef& ctx = held.ctx;
        nrn::TrainArgs args = check_train(check, held, learning_rate);
        check.require(batch_size >= 1, NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "batch_size is " + std::to_string(batch_size) + " but must be >= 1";
        });
        check.require(first_step >= 0, NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "first_step is " + std::to_string(first_step) + " but must be >= 0";
        });
        check.require(step_count >= 1, NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "step_count is " + std::to_string(step_count) + " but must be >= 1";
        });
        check.require(first_step <= std::numeric_limits<int64_t>::max() - step_count, NRN_STATUS_INVALID_ARGUMENT,
                      "first_step + step_count overflows");
        check_order(check, order);
        args.batch_size = std::min(batch_size, args.rows);  // a batch larger than the data is all of it
        args.first_step = first_step;
        args.step_count = step_count;
        args.order = order;
        args.seed = seed;
        held.call.lock();
        ctx->backend->linear_mse_sgd_train(args);
    });
}

nrn_status nrn_batch_index(nrn_batch_order order, uint64_t seed, int64_t step, int64_t batch_count,
                           int64_t* batch_index) {
    return guard("nrn_batch_index", [&] {
        const Check check("nrn_batch_index");
        check.not_null(batch_index, "batch_index");
        check_order(check, order);
        check.require(step >= 0, NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "step is " + std::to_string(step) + " but must be >= 0";
        });
        check.require(batch_count >= 1, NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "batch_count is " + std::to_string(batch_count) + " but must be >= 1";
        });
        *batch_index = nrn::batch_index(order, seed, step, batch_count);
    });
}
