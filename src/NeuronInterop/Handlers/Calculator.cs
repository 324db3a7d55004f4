using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NeuronInterop.Modules;

namespace NeuronInterop.Handlers;

/// <summary>Runs a module's inference in eval mode over a data set in batches (any final, smaller batch included), like PuzzleLib's <c>Calculator</c>.</summary>
public sealed class Calculator
{
    private readonly ILogger _logger;

    /// <summary>Creates a calculator.</summary>
    /// <param name="module">The module to run.</param>
    /// <param name="batchSize">Rows per batch, at least 1.</param>
    /// <param name="logger">Where progress is logged (Debug) and batch detail (Trace).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1.</exception>
    /// <exception cref="ObjectDisposedException">The module has been disposed.</exception>
    public Calculator(Module module, int batchSize = 128, ILogger? logger = null)
    {
        HandlerChecks.CheckModule(module);
        HandlerChecks.CheckBatchSize(batchSize);
        Module = module;
        BatchSize = batchSize;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The module run.</summary>
    public Module Module { get; }

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; }

    /// <summary>
    /// Puts the module in eval mode and computes its output for every row of <paramref name="data"/>. The module
    /// stays in eval mode, as in PuzzleLib: a <see cref="Trainer"/> returns it to train mode itself, a hand-written
    /// training step needs <see cref="Module.TrainMode"/> first.
    /// </summary>
    /// <param name="data">Inputs on the module's device, rows × input features.</param>
    /// <returns>A new tensor (rows × output features) on the module's device, owned by the caller.</returns>
    /// <exception cref="ArgumentException">The shape does not fit, or the tensor lives on another device than the module.</exception>
    /// <exception cref="ObjectDisposedException">The module or the tensor has been disposed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the module (give each thread its own module).</exception>
    public Tensor Calc(Tensor data)
    {
        Module.ThrowIfDisposed();
        HandlerChecks.CheckDevice(Module, data, null);
        using SingleThreadGuard.Use use = Module.Guard.Enter();
        Module.EvalMode();
        Tensor result = CalcBatches(data, 0);
        _logger.LogDebug("Calculation finished: rows {Rows}, batch size {BatchSize}", data.Shape[0], BatchSize);
        return result;
    }

    /// <summary>
    /// The module's output for every row of host data, in eval mode (where the module stays, as with <see cref="Calc"/>):
    /// the data is uploaded one macro-batch at a time (so that the device never holds more of it, nor of the output),
    /// each cut into batches of <see cref="BatchSize"/> rows, and its output copied back.
    /// </summary>
    /// <param name="data">Inputs, rows × input features.</param>
    /// <param name="macroBatchSize">
    /// Rows uploaded at a time, at least <see cref="BatchSize"/>; by default <see cref="Trainer.DefaultMacroBatchSize"/>,
    /// or <see cref="BatchSize"/> when that is larger.
    /// </param>
    /// <returns>The outputs, rows × output features.</returns>
    /// <exception cref="ArgumentException">The data is empty, its shape does not fit the module, or a batch's rows hold more values than a .NET array.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="macroBatchSize"/> is smaller than <see cref="BatchSize"/>, or its rows hold more values than a .NET array
    /// (<see cref="Array.MaxLength"/>: each macro-batch is copied from one span).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The module has been disposed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the module.</exception>
    public float[,] CalcFromHost(float[,] data, int? macroBatchSize = null)
    {
        Module.ThrowIfDisposed();
        HandlerChecks.CheckHost(Module, data, null);
        int macroRows = HandlerChecks.MacroBatchRows(macroBatchSize, BatchSize, Math.Max(data.GetLength(1), Module.OutputFeatures ?? 1));
        using SingleThreadGuard.Use use = Module.Guard.Enter();
        Module.EvalMode();

        long rows = data.GetLength(0);
        float[,]? result = null;
        for (long first = 0; first < rows; first += macroRows)
        {
            long count = Math.Min(macroRows, rows - first);
            using Tensor x = Tensor.FromArray(Module.Device, HandlerChecks.Rows(data, first, count), count, data.GetLength(1));
            using Tensor y = CalcBatches(x, first);
            result ??= new float[rows, y.Shape[1]];
            y.CopyTo(HandlerChecks.WritableRows(result, first, count));
        }
        _logger.LogDebug("Calculation finished: rows {Rows}, batch size {BatchSize}", rows, BatchSize);
        return result!;
    }

    /// <summary>A new tensor of the module's output for every row of the data; <paramref name="firstRow"/> places it in the whole data set, for the log.</summary>
    private Tensor CalcBatches(Tensor data, long firstRow)
    {
        long rows = data.Shape[0];
        Tensor? result = null;
        try
        {
            for (long first = 0; first < rows; first += BatchSize)
            {
                long count = Math.Min(BatchSize, rows - first);
                if (count == rows)
                {
                    Tensor output = Module.Forward(data);
                    result = new Tensor(Module.Device, output.Shape.ToArray());
                    result.CopyFrom(output);
                }
                else
                {
                    using Tensor x = data.SliceRows(first, count);
                    Tensor y = Module.Forward(x);
                    result ??= new Tensor(Module.Device, rows, y.Shape[1]);
                    result.CopyRowsFrom(y, 0, first, count);
                }
                BatchLog.Calculated(_logger, firstRow + first, firstRow + first + count - 1);
            }
        }
        catch
        {
            result?.Dispose();
            throw;
        }
        return result!;
    }
}
