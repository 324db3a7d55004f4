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
        EvaluateBatches(data, target, 0);
        return Finish(data.Shape[0]);
    }

    /// <summary>
    /// Returns <see cref="Validate"/>'s result for host data, uploaded to the module's device one macro-batch at a
    /// time (so that the device never holds more of it), each cut into batches of <see cref="BatchSize"/> rows.
    /// </summary>
    /// <param name="data">Inputs, rows × input features.</param>
    /// <param name="target">Targets, rows × output features.</param>
    /// <param name="macroBatchSize">
    /// Rows uploaded at a time, at least <see cref="BatchSize"/>; by default <see cref="Trainer.DefaultMacroBatchSize"/>,
    /// or <see cref="BatchSize"/> when that is larger. The error does not depend on it beyond float rounding.
    /// </param>
    /// <returns>The batch-weighted mean error.</returns>
    /// <exception cref="ArgumentException">The data is empty, its shape does not fit the module or the target, the data or target holds a NaN or infinite value, or a batch's rows hold more values than a .NET array.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="macroBatchSize"/> is smaller than <see cref="BatchSize"/>, or its rows hold more values than a .NET array
    /// (<see cref="Array.MaxLength"/>: each macro-batch is copied from one span).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The module or the cost has been disposed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the module or the cost.</exception>
    public double ValidateFromHost(float[,] data, float[,] target, int? macroBatchSize = null)
    {
        Module.ThrowIfDisposed();
        Cost.ThrowIfDisposed();
        HandlerChecks.CheckHost(Module, data, target);
        int macroRows = HandlerChecks.MacroBatchRows(macroBatchSize, BatchSize, Math.Max(data.GetLength(1), target.GetLength(1)));
        using SingleThreadGuard.Use module = Module.Guard.Enter();
        using SingleThreadGuard.Use cost = Cost.Guard.Enter();

        Cost.ResetAccumulator();
        Module.EvalMode();
        long rows = data.GetLength(0);
        for (long first = 0; first < rows; first += macroRows)
        {
            long count = Math.Min(macroRows, rows - first);
            using Tensor x = Tensor.FromArray(Module.Device, HandlerChecks.Rows(data, first, count), count, data.GetLength(1));
            using Tensor t = Tensor.FromArray(Module.Device, HandlerChecks.Rows(target, first, count), count, target.GetLength(1));
            EvaluateBatches(x, t, first);
        }
        return Finish(rows);
    }

    /// <summary>Adds the error of every batch of the data to the cost's accumulator; <paramref name="firstRow"/> places it in the whole data set, for the log.</summary>
    private void EvaluateBatches(Tensor data, Tensor target, long firstRow)
    {
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
            BatchLog.Validated(_logger, firstRow + first, firstRow + first + count - 1);
        }
    }

    private double Finish(long rows)
    {
        double error = Cost.MeanError;
        _logger.LogInformation("Validation finished: samples {Rows}, mean error {MeanError}", rows, error);
        return error;
    }
}
