using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NeuronInterop.Cost;
using NeuronInterop.Modules;

namespace NeuronInterop.Handlers;

/// <summary>
/// Computes a module's batch-weighted mean error on a data set in eval mode, batch by batch in
/// order (no shuffling), like PuzzleLib's <c>Validator</c>. It uses, and resets, the cost's accumulator.
/// </summary>
public sealed class Validator
{
    private readonly ILogger _logger;

    /// <summary>Creates a validator.</summary>
    /// <param name="module">The module to evaluate.</param>
    /// <param name="cost">The cost; bound to the module's device.</param>
    /// <param name="batchSize">Rows per batch, at least 1.</param>
    /// <param name="logger">Where the result is logged (Information) and batch detail (Trace).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1.</exception>
    /// <exception cref="ArgumentException">The cost lives on another device.</exception>
    /// <exception cref="ObjectDisposedException">The module or the cost has been disposed.</exception>
    public Validator(Module module, MseCost cost, int batchSize = 128, ILogger? logger = null)
    {
        HandlerChecks.CheckModule(module);
        HandlerChecks.CheckBatchSize(batchSize);
        HandlerChecks.BindCost(cost, module);
        Module = module;
        Cost = cost;
        BatchSize = batchSize;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The module evaluated.</summary>
    public Module Module { get; }

    /// <summary>The cost.</summary>
    public MseCost Cost { get; }

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; }

    /// <summary>
    /// Puts the module in eval mode and returns its batch-weighted mean error on data on its device. The module
    /// stays in eval mode, as in PuzzleLib: a <see cref="Trainer"/> returns it to train mode itself, a hand-written
    /// training step needs <see cref="Module.TrainMode"/> first. The data is not checked for NaN or infinity.
    /// </summary>
    /// <param name="data">Inputs, rows × input features.</param>
    /// <param name="target">Targets, rows × output features.</param>
    /// <returns>Σ error·rows / Σ rows over the batches.</returns>
    /// <exception cref="ArgumentException">A shape does not fit, or a tensor lives on another device than the module.</exception>
    /// <exception cref="ObjectDisposedException">The module, the cost or a tensor has been disposed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the module or the cost.</exception>
    public double Validate(Tensor data, Tensor target)
    {
        Module.ThrowIfDisposed();
        Cost.ThrowIfDisposed();
        HandlerChecks.CheckDevice(Module, data, target);
        using SingleThreadGuard.Use module = Module.Guard.Enter();
        using SingleThreadGuard.Use cost = Cost.Guard.Enter();

        Cost.ResetAccumulator();
        Module.EvalMode();
        long rows = data.Shape[0];
        for (long first = 0; first < rows; first += BatchSize)
        {
            long count = Math.Min(BatchSize, rows - first);
            if (count == rows)
            {
                Cost.Evaluate(Module.Forward(data), target);
            }
            else
            {
                using Tensor x = data.SliceRows(first, count);
                using Tensor t = target.SliceRows(first, count);
                Cost.Evaluate(Module.Forward(x), t);
            }
            BatchLog.Validated(_logger, first, first + count - 1);
        }

        double error = Cost.MeanError;
        _logger.LogInformation("Validation finished: samples {Rows}, mean error {MeanError}", rows, error);
        return error;
    }

    /// <summary>Uploads host data to the module's device and returns <see cref="Validate"/>'s result.</summary>
    /// <param name="data">Inputs, rows × input features.</param>
    /// <param name="target">Targets, rows × output features.</param>
    /// <returns>The batch-weighted mean error.</returns>
    /// <exception cref="ArgumentException">The data is empty, its shape does not fit the module or the target, or the data or target holds a NaN or infinite value.</exception>
    /// <exception cref="ObjectDisposedException">The module or the cost has been disposed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the module or the cost.</exception>
    public double ValidateFromHost(float[,] data, float[,] target)
    {
        Module.ThrowIfDisposed();
        Cost.ThrowIfDisposed();
        HandlerChecks.CheckHost(Module, data, target);
        using Tensor x = Tensor.FromArray(Module.Device, data);
        using Tensor t = Tensor.FromArray(Module.Device, target);
        return Validate(x, t);
    }
}
