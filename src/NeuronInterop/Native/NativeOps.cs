namespace NeuronInterop.Native;

/// <summary>
/// Checked native operations on tensors. The context is the first tensor's device; optional
/// tensors may be null. Each method leases its handles for the call, throws through the status
/// table, allocates nothing and does not synchronise (except <see cref="AccumulatorRead"/>).
/// </summary>
internal static unsafe class NativeOps
{
    /// <summary>output = input·weight + bias.</summary>
    public static void LinearForward(Tensor input, Tensor weight, Tensor? bias, Tensor output)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(output);
        using var context = input.Device.Lease();
        using var x = input.Lease();
        using var w = weight.Lease();
        using var b = Tensor.Lease(bias);
        using var y = output.Lease();
        Ensure.Success(NeuronNative.nrn_linear_forward(context.Pointer, x.Pointer, w.Pointer, b.Pointer, y.Pointer));
    }

    /// <summary>Gradients of a Linear layer: inputGrad = G·Wᵀ, weightGrad = Xᵀ·G, biasGrad = column sums of G; each optional.</summary>
    public static void LinearBackward(Tensor input, Tensor weight, Tensor outputGrad,
        Tensor? inputGrad, Tensor? weightGrad, Tensor? biasGrad, bool accumulate)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(outputGrad);
        using var context = input.Device.Lease();
        using var x = input.Lease();
        using var w = weight.Lease();
        using var g = outputGrad.Lease();
        using var dx = Tensor.Lease(inputGrad);
        using var dw = Tensor.Lease(weightGrad);
        using var db = Tensor.Lease(biasGrad);
        var mode = accumulate ? nrn_grad_mode.NRN_GRAD_ACCUMULATE : nrn_grad_mode.NRN_GRAD_OVERWRITE;
        Ensure.Success(NeuronNative.nrn_linear_backward(
            context.Pointer, x.Pointer, w.Pointer, g.Pointer, dx.Pointer, dw.Pointer, db.Pointer, mode));
    }

    /// <summary>MSE of prediction against target: its gradient, its error (a one-element tensor) and the accumulator update; each output optional.</summary>
    public static void Mse(Tensor prediction, Tensor target, Tensor? grad, Tensor? error, Tensor? accumulator)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        using var context = prediction.Device.Lease();
        using var p = prediction.Lease();
        using var t = target.Lease();
        using var g = Tensor.Lease(grad);
        using var e = Tensor.Lease(error);
        using var a = Tensor.Lease(accumulator);
        Ensure.Success(NeuronNative.nrn_mse(context.Pointer, p.Pointer, t.Pointer, g.Pointer, e.Pointer, a.Pointer));
    }

    /// <summary>Zeroes an error accumulator.</summary>
    public static void AccumulatorReset(Tensor accumulator)
    {
        ArgumentNullException.ThrowIfNull(accumulator);
        using var context = accumulator.Device.Lease();
        using var a = accumulator.Lease();
        Ensure.Success(NeuronNative.nrn_accumulator_reset(context.Pointer, a.Pointer));
    }

    /// <summary>Reads an accumulator: the batch-weighted error sum and the sample count since its reset. Synchronises the device.</summary>
    public static (double ErrorSum, double SampleCount) AccumulatorRead(Tensor accumulator)
    {
        ArgumentNullException.ThrowIfNull(accumulator);
        using var context = accumulator.Device.Lease();
        using var a = accumulator.Lease();
        double errorSum, sampleCount;
        Ensure.Success(NeuronNative.nrn_accumulator_read(context.Pointer, a.Pointer, &errorSum, &sampleCount));
        return (errorSum, sampleCount);
    }

    /// <summary>param -= learningRate · grad.</summary>
    public static void SgdUpdate(Tensor param, Tensor grad, float learningRate)
    {
        ArgumentNullException.ThrowIfNull(param);
        ArgumentNullException.ThrowIfNull(grad);
        using var context = param.Device.Lease();
        using var p = param.Lease();
        using var g = grad.Lease();
        Ensure.Success(NeuronNative.nrn_sgd_update(context.Pointer, p.Pointer, g.Pointer, learningRate));
    }

    /// <summary>One fused SGD step of a Linear layer with MSE cost on one batch.</summary>
    public static void LinearMseSgdStep(Tensor input, Tensor target, Tensor weight, Tensor? bias,
        float learningRate, Tensor? error, Tensor? accumulator)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(weight);
        using var context = input.Device.Lease();
        using var x = input.Lease();
        using var t = target.Lease();
        using var w = weight.Lease();
        using var b = Tensor.Lease(bias);
        using var e = Tensor.Lease(error);
        using var a = Tensor.Lease(accumulator);
        Ensure.Success(NeuronNative.nrn_linear_mse_sgd_step(
            context.Pointer, x.Pointer, t.Pointer, w.Pointer, b.Pointer, learningRate, e.Pointer, a.Pointer));
    }

    /// <summary><paramref name="stepCount"/> fused SGD steps over a device-resident data set, batches picked by <paramref name="order"/>.</summary>
    public static void LinearMseSgdTrain(Tensor input, Tensor target, Tensor weight, Tensor? bias,
        float learningRate, long batchSize, long firstStep, long stepCount, BatchOrder order, ulong seed,
        Tensor? error, Tensor? accumulator)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(weight);
        using var context = input.Device.Lease();
        using var x = input.Lease();
        using var t = target.Lease();
        using var w = weight.Lease();
        using var b = Tensor.Lease(bias);
        using var e = Tensor.Lease(error);
        using var a = Tensor.Lease(accumulator);
        Ensure.Success(NeuronNative.nrn_linear_mse_sgd_train(
            context.Pointer, x.Pointer, t.Pointer, w.Pointer, b.Pointer, learningRate,
            batchSize, firstStep, stepCount, (nrn_batch_order)order, seed, e.Pointer, a.Pointer));
    }

    /// <summary>The batch index that <paramref name="order"/> picks for global step <paramref name="step"/> (the same choice <see cref="LinearMseSgdTrain"/> makes).</summary>
    public static long BatchIndex(BatchOrder order, ulong seed, long step, long batchCount)
    {
        long index;
        Ensure.Success(NeuronNative.nrn_batch_index((nrn_batch_order)order, seed, step, batchCount, &index));
        return index;
    }
}
