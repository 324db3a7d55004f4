using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NeuronInterop.Cost;
using NeuronInterop.Modules;
using NeuronInterop.Native;
using NeuronInterop.Optimizers;

namespace NeuronInterop.Handlers;

/// <summary>
/// Trains a module with a cost and an optimizer in batches, like PuzzleLib's <c>Trainer</c>.
/// </summary>
/// <remarks>
/// <para>
/// Data is cut into macro-batches (host data is uploaded one macro-batch at a time into device
/// buffers the trainer keeps) and each macro-batch into batches of <see cref="BatchSize"/> rows; a
/// last, smaller batch is kept. Shuffling permutes the order of the batches (not the rows inside
/// a batch), reproducibly: macro-batch <c>m</c> with <c>n</c> batches trains, at its step <c>i</c>,
/// the batch <c>BatchOrder.Shuffle</c> picks for global step <c>m·n + i</c> from the seed, that is a
/// permutation keyed by <c>(seed, m)</c>. <see cref="TrainFromHost"/> also takes its <c>M</c> macro-batches
/// in a permuted order, as PuzzleLib does: at position <c>p</c>, the one <c>BatchOrder.Shuffle</c> picks
/// among <c>M</c> for step <c>p</c> from the seed's bitwise complement. The same seed gives the same order on every backend. Without a
/// seed, a call of <see cref="TrainFromHost"/> or <see cref="Train"/> takes the number of such calls the
/// trainer began before it: a loop over epochs then shuffles each epoch afresh, as PuzzleLib does, and
/// every run of the loop the same way.
/// </para>
/// <para>
/// Each batch: forward, cost, <see cref="Module.ZeroGradParams"/>, <c>Backward(grad, updGrad: false)</c>,
/// <see cref="Sgd.Update"/>, then the batch callback. For a <see cref="Linear"/> module the step is one
/// fused native call, and without a batch callback a whole macro-batch is one native call: the
/// host does not wait for the device between steps. The fused steps do not write the layer's
/// gradient buffers.
/// </para>
/// <para>
/// Training resets the cost's accumulator and puts the module in train mode; every step trains in
/// train mode, even after a callback ran a <see cref="Validator"/> (which leaves eval mode).
/// </para>
/// <para>
/// With Information logging enabled, each training call logs the mean error at its end, which reads
/// it from the device: one wait per call, never per step. Without it nothing is read back. A mean
/// error that is not finite (diverged training) is then also logged as a warning, once until a call
/// ends finite again; only then, so that a logger at Warning level adds no wait.
/// </para>
/// <para>
/// A trainer runs one training call at a time: a call from one of its own callbacks, or from another
/// thread while one runs, is refused (it would share the upload buffers and the step counters).
/// Train with a second trainer instead. A call holds its module and cost for its thread: another
/// thread's use of either (a second trainer, a <see cref="Validator"/>, <see cref="Module.Forward"/>)
/// is refused until it returns, except while a callback of the call runs: then any thread may use
/// them, so that the callback may have another thread use them while it waits (a UI's
/// <c>Dispatcher.Invoke</c>). The call takes them back when the callback returns.
/// </para>
/// </remarks>
public sealed class Trainer : IDisposable
{
    private readonly ILogger _logger;
    private readonly Parameter[] _parameters;  // checked before every step: a callback may dispose one
    private Tensor? _dataBuffer;
    private Tensor? _targetBuffer;
    private volatile bool _disposed;
    private int _training;  // 1 while a training call runs, or while Dispose releases the buffers
    private int _callbackDepth;  // callbacks of the running call that have not returned
    private bool _divergenceLogged;
    private ulong _passesBegun;  // TrainFromHost and Train calls that began training: the next one's default seed

    /// <summary>Creates a trainer.</summary>
    /// <param name="module">The module to train.</param>
    /// <param name="cost">The cost; bound to the module's device.</param>
    /// <param name="optimizer">The optimizer; set up on <paramref name="module"/> here when it has not been set up yet.</param>
    /// <param name="batchSize">Rows per batch, at least 1.</param>
    /// <param name="onBatchFinish">Called with the trainer after every batch.</param>
    /// <param name="logger">Where training progress is logged (Information), and per-batch detail (Debug, Trace).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1.</exception>
    /// <exception cref="ArgumentException">The optimizer is set up on another module, or the cost lives on another device.</exception>
    /// <exception cref="ObjectDisposedException">The module or the cost has been disposed.</exception>
    public Trainer(Module module, MseCost cost, Sgd optimizer, int batchSize = 128,
        Action<Trainer>? onBatchFinish = null, ILogger? logger = null)
    {
        HandlerChecks.CheckModule(module);
        ArgumentNullException.ThrowIfNull(cost);
        ArgumentNullException.ThrowIfNull(optimizer);
        HandlerChecks.CheckBatchSize(batchSize);
        cost.ThrowIfDisposed();
        if (optimizer.Module is not null && !ReferenceEquals(optimizer.Module, module))
        {
            throw new ArgumentException(
                $"The optimizer is set up on another module ({optimizer.Module}) than the one to train ({module}): " +
                "call optimizer.SetupOn(module) first, or give the trainer its own optimizer.", nameof(optimizer));
        }
        HandlerChecks.BindCost(cost, module);
        if (optimizer.Module is null)
        {
            optimizer.SetupOn(module);
        }

        Module = module;
        Cost = cost;
        Optimizer = optimizer;
        BatchSize = batchSize;
        OnBatchFinish = onBatchFinish;
        _logger = logger ?? NullLogger.Instance;
        _parameters = [.. module.Parameters];
    }

    /// <summary>The rows per macro-batch of <see cref="TrainFromHost"/> when none is given (PuzzleLib's default).</summary>
    public const int DefaultMacroBatchSize = 10000;

    /// <summary>The module being trained.</summary>
    public Module Module { get; }

    /// <summary>
    /// The cost; its <see cref="MseCost.MeanError"/> is the mean error of the batches trained since the last training call
    /// began (each resets it). A <see cref="Validator"/> given the same cost, from a callback say, resets it too and leaves
    /// its own mean there, from which the call goes on accumulating: give a Validator a cost of its own to keep the two apart.
    /// </summary>
    public MseCost Cost { get; }

    /// <summary>The optimizer; its learning rate may change between calls or inside callbacks.</summary>
    public Sgd Optimizer { get; }

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Called with the trainer after every batch, or null.</summary>
    public Action<Trainer>? OnBatchFinish { get; }

    /// <summary>The index, within its macro-batch, of the batch trained last.</summary>
    public long CurrentBatch { get; private set; }

    /// <summary>
    /// The index, within the last call, of the macro-batch trained last: <see cref="TrainFromHost"/> uploads its data in
    /// macro-batches (macro-batch <c>m</c> holds the rows from <c>m</c> × the macro-batch size on; shuffled, they come
    /// in a permuted order), and the device data of <see cref="Train"/> and <see cref="TrainSteps"/> is macro-batch 0.
    /// </summary>
    public long CurrentMacroBatch { get; private set; }

    /// <summary>
    /// The number of batches of the macro-batch trained last (PuzzleLib's <c>totalBatches</c>): those its rows make,
    /// the last one possibly smaller; for <see cref="TrainSteps"/>, those the device data makes.
    /// </summary>
    public long TotalBatches { get; private set; }

    /// <summary>
    /// The number of macro-batches of the last call (PuzzleLib's <c>totalMacroBatches</c>): those the rows of
    /// <see cref="TrainFromHost"/> make, 1 for <see cref="Train"/> and <see cref="TrainSteps"/>.
    /// </summary>
    public long TotalMacroBatches { get; private set; }

    /// <summary>The number of batches trained since the trainer was created.</summary>
    public long BatchesTrained { get; private set; }

    /// <summary>The number of samples (rows) trained since the trainer was created.</summary>
    public long SamplesTrained { get; private set; }

    /// <summary>Whether fused native steps are used for <see cref="Linear"/> modules (false forces the generic path).</summary>
    internal bool UseFusedSteps { get; set; } = true;

    /// <summary>
    /// Trains one pass over host data: macro-batches of <paramref name="macroBatchSize"/> rows are
    /// uploaded in turn and trained in batches of <see cref="BatchSize"/> rows. With shuffling, the
    /// macro-batches are taken in an order permuted from <paramref name="seed"/> too, as PuzzleLib does.
    /// </summary>
    /// <param name="data">Inputs, rows × input features.</param>
    /// <param name="target">Targets, rows × output features.</param>
    /// <param name="macroBatchSize">
    /// Rows per macro-batch, at least <see cref="BatchSize"/>; by default <see cref="DefaultMacroBatchSize"/>,
    /// or <see cref="BatchSize"/> when that is larger.
    /// </param>
    /// <param name="onMacroBatchFinish">Called with the trainer after every macro-batch.</param>
    /// <param name="shuffle">Permute the order of the macro-batches, and of the batches of each, from <paramref name="seed"/>.</param>
    /// <param name="seed">The seed of the batch order; by default the number of <see cref="TrainFromHost"/> and <see cref="Train"/> calls this trainer began before this one.</param>
    /// <exception cref="ArgumentException">The data is empty, its shape does not fit the module or the target, the data or target holds a NaN or infinite value, or a batch's rows hold more values than a .NET array.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="macroBatchSize"/> is smaller than <see cref="BatchSize"/>, or its rows hold more values than a .NET array
    /// (<see cref="Array.MaxLength"/>: each macro-batch is copied from one span).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The trainer, module, one of its parameters or the cost has been disposed.</exception>
    /// <exception cref="InvalidOperationException">This trainer is already training (the call comes from one of its callbacks, or from another thread), or another thread is using the module or the cost, or the optimizer has been set up on another module (from a callback too, which stops the call before its next batch).</exception>
    public void TrainFromHost(float[,] data, float[,] target, int? macroBatchSize = null,
        Action<Trainer>? onMacroBatchFinish = null, bool shuffle = true, ulong? seed = null)
    {
        CheckReady();
        using TrainingCall call = EnterTrainingCall();
        HandlerChecks.CheckHost(Module, data, target);
        int macroRows = HandlerChecks.MacroBatchRows(macroBatchSize, BatchSize, Math.Max(data.GetLength(1), target.GetLength(1)));

        long rows = data.GetLength(0);
        long capacity = Math.Min(macroRows, rows);
        _dataBuffer = EnsureBuffer(_dataBuffer, capacity, data.GetLength(1));
        _targetBuffer = EnsureBuffer(_targetBuffer, capacity, target.GetLength(1));
        ulong orderSeed = BeginPass(seed);

        BatchOrder order = shuffle ? BatchOrder.Shuffle : BatchOrder.Sequential;
        long macroCount = BatchSchedule.CountBatches(rows, macroRows);
        TotalMacroBatches = macroCount;
        for (long position = 0; position < macroCount; position++)
        {
            CheckReady();  // a callback may have disposed something, or set the optimizer up on another module
            long macroIndex = shuffle ? BatchSchedule.MacroBatchAt(orderSeed, position, macroCount) : position;
            long first = macroIndex * macroRows;
            long count = Math.Min(macroRows, rows - first);
            Tensor? x = null, t = null;
            try
            {
                x = count == _dataBuffer.Shape[0] ? _dataBuffer : _dataBuffer.SliceRows(0, count);
                t = count == _targetBuffer.Shape[0] ? _targetBuffer : _targetBuffer.SliceRows(0, count);
                x.CopyFrom(HandlerChecks.Rows(data, first, count));
                t.CopyFrom(HandlerChecks.Rows(target, first, count));
                TrainMacroBatch(x, t, macroIndex, order, orderSeed);
            }
            finally
            {
                if (!ReferenceEquals(x, _dataBuffer)) x?.Dispose();
                if (!ReferenceEquals(t, _targetBuffer)) t?.Dispose();
            }
            RunCallback(onMacroBatchFinish);
        }
        LogFinished(rows);
    }

    /// <summary>
    /// Trains one pass over data already on the module's device, as one macro-batch. Device data is not checked
    /// for NaN or infinity (that would cost a copy to the host): such a value makes the parameters NaN.
    /// </summary>
    /// <param name="data">Inputs, rows × input features.</param>
    /// <param name="target">Targets, rows × output features.</param>
    /// <param name="onMacroBatchFinish">Called with the trainer once, at the end.</param>
    /// <param name="shuffle">Permute the order of the batches from <paramref name="seed"/>.</param>
    /// <param name="seed">The seed of the batch order; by default the number of <see cref="TrainFromHost"/> and <see cref="Train"/> calls this trainer began before this one.</param>
    /// <exception cref="ArgumentException">A shape does not fit, or a tensor lives on another device than the module.</exception>
    /// <exception cref="ObjectDisposedException">The trainer, module, one of its parameters, the cost or a tensor has been disposed.</exception>
    /// <exception cref="InvalidOperationException">This trainer is already training (the call comes from one of its callbacks, or from another thread), or another thread is using the module or the cost, or the optimizer has been set up on another module (from a callback too, which stops the call before its next batch).</exception>
    public void Train(Tensor data, Tensor target, Action<Trainer>? onMacroBatchFinish = null, bool shuffle = true, ulong? seed = null)
    {
        CheckReady();
        using TrainingCall call = EnterTrainingCall();
        HandlerChecks.CheckDevice(Module, data, target);
        ulong orderSeed = BeginPass(seed);
        TrainMacroBatch(data, target, 0, shuffle ? BatchOrder.Shuffle : BatchOrder.Sequential, orderSeed);
        RunCallback(onMacroBatchFinish);
        LogFinished(data.Shape[0]);
    }

    /// <summary>
    /// Device-resident training: <paramref name="steps"/> steps over data on the device, global step
    /// <c>s = firstStep + i</c> training the batch <paramref name="order"/> picks for <c>s</c> from
    /// <paramref name="seed"/> (with <see cref="BatchOrder.Shuffle"/> each epoch of ⌈rows / batchSize⌉
    /// steps visits every batch once). For a <see cref="Linear"/> module without a batch callback all
    /// steps are enqueued by one native call. As with <see cref="Train"/>, the data is not checked for NaN or infinity.
    /// </summary>
    /// <remarks>
    /// One call is not interrupted: on the host it runs every step before it returns, holding the device. To stop a
    /// long run between steps (a cancellation token, a progress bar), train in chunks that continue one another:
    /// <c>for (long done = 0; done &lt; steps; done += chunk) { token.ThrowIfCancellationRequested();
    /// trainer.TrainSteps(data, target, Math.Min(chunk, steps - done), order, seed, firstStep: done); }</c> trains the
    /// same steps to the same parameters, bit for bit; <see cref="MseCost.MeanError"/> then covers the last chunk.
    /// </remarks>
    /// <param name="data">Inputs, rows × input features.</param>
    /// <param name="target">Targets, rows × output features.</param>
    /// <param name="steps">The number of steps, at least 0.</param>
    /// <param name="order">How each step's batch is picked.</param>
    /// <param name="seed">The seed of the batch order.</param>
    /// <param name="firstStep">The global index of the first step (to continue an earlier run), at least 0.</param>
    /// <exception cref="ArgumentException">A shape does not fit, or a tensor lives on another device than the module.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="steps"/> or <paramref name="firstStep"/> is negative, <paramref name="firstStep"/> +
    /// <paramref name="steps"/> exceeds <see cref="long.MaxValue"/>, or the order is unknown.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The trainer, module, one of its parameters, the cost or a tensor has been disposed.</exception>
    /// <exception cref="InvalidOperationException">This trainer is already training (the call comes from one of its callbacks, or from another thread), or another thread is using the module or the cost, or the optimizer has been set up on another module (from a callback too, which stops the call before its next batch).</exception>
    public void TrainSteps(Tensor data, Tensor target, long steps, BatchOrder order = BatchOrder.Shuffle, ulong seed = 0, long firstStep = 0)
    {
        CheckReady();
        HandlerChecks.CheckDevice(Module, data, target);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        ArgumentOutOfRangeException.ThrowIfNegative(firstStep);
        if (steps > long.MaxValue - firstStep)
        {
            throw new ArgumentOutOfRangeException(nameof(steps), steps,
                $"firstStep + steps must not exceed {long.MaxValue}; firstStep is {firstStep}.");
        }
        if (!Enum.IsDefined(order))
        {
            throw new ArgumentOutOfRangeException(nameof(order), order, "Unknown batch order.");
        }
        using TrainingCall call = EnterTrainingCall();
        BeginTraining();
        TotalBatches = BatchSchedule.CountBatches(data.Shape[0], BatchSize);
        if (steps > 0)
        {
            RunSteps(data, target, firstStep, steps, order, seed);
        }
        if (_logger.IsEnabled(LogLevel.Information))
        {
            double mean = Cost.MeanError;
            _logger.LogInformation("Training finished: steps {Steps} ({Order}) from step {FirstStep}, mean error {MeanError}",
                steps, order, firstStep, mean);
            LogIfDiverged(mean);
        }
    }

    /// <summary>
    /// Releases the device buffers the trainer keeps for uploads (not the module, cost or optimizer).
    /// Called from one of its callbacks (or from a thread a callback waits for), it stops the training call with an
    /// <see cref="ObjectDisposedException"/> before its next batch.
    /// </summary>
    /// <exception cref="InvalidOperationException">A training call runs on another thread, outside its callbacks: it would go on with freed buffers.</exception>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        if (Interlocked.CompareExchange(ref _training, 1, 0) == 0)
        {
            // No training call runs, and none starts until this returns (EnterTrainingCall then sees the trainer disposed).
            try
            {
                ReleaseBuffers();
            }
            finally
            {
                Volatile.Write(ref _training, 0);
            }
        }
        else if (Volatile.Read(ref _callbackDepth) > 0)
        {
            ReleaseBuffers();  // the call checks, after the callback, before its next batch
        }
        else
        {
            throw new InvalidOperationException(
                "This trainer is training on another thread: its call would go on with freed upload buffers. " +
                "Dispose it after the call returns, or from one of its callbacks.");
        }
    }

    private void ReleaseBuffers()
    {
        _disposed = true;
        // Disposed but kept: a training call that reads them from here on meets an ObjectDisposedException.
        _dataBuffer?.Dispose();
        _targetBuffer?.Dispose();
    }

    private void CheckReady()
    {
        ThrowIfDisposed();
        Module.ThrowIfDisposed();
        Cost.ThrowIfDisposed();
        foreach (Parameter parameter in _parameters)
        {
            parameter.ThrowIfDisposed();  // by name: the fused steps would only see an anonymous tensor
        }
        if (!ReferenceEquals(Optimizer.Module, Module))
        {
            throw new InvalidOperationException(
                $"The optimizer has since been set up on another module ({Optimizer.Module}) than the trained one ({Module}).");
        }
    }

    /// <summary>
    /// Marks a training call as running until the returned scope is disposed, and takes the module and the cost
    /// for this thread; refuses a second call, and a module or cost another thread is using.
    /// </summary>
    private TrainingCall EnterTrainingCall()
    {
        if (Interlocked.CompareExchange(ref _training, 1, 0) != 0)
        {
            throw new InvalidOperationException(
                "This trainer is already training: a training call from one of its own callbacks, or from another " +
                "thread while one runs, would share its upload buffers and step counters. Train with a second Trainer.");
        }
        try
        {
            ThrowIfDisposed();  // by a Dispose on another thread since the caller's check
            SingleThreadGuard.Use module = Module.Guard.Enter();
            try
            {
                return new TrainingCall(this, module, Cost.Guard.Enter());
            }
            catch
            {
                module.Dispose();
                throw;
            }
        }
        catch
        {
            Volatile.Write(ref _training, 0);
            throw;
        }
    }

    private readonly struct TrainingCall(Trainer trainer, SingleThreadGuard.Use module, SingleThreadGuard.Use cost)
        : IDisposable
    {
        public void Dispose()
        {
            cost.Dispose();
            module.Dispose();
            Volatile.Write(ref trainer._training, 0);
        }
    }

    private void BeginTraining()
    {
        CurrentMacroBatch = 0;  // device data is one macro-batch; TrainFromHost counts its own
        TotalMacroBatches = 1;
        Cost.ResetAccumulator();
        Module.TrainMode();
    }

    /// <summary>Begins a pass of <see cref="TrainFromHost"/> or <see cref="Train"/>; returns the seed of its batch order.</summary>
    private ulong BeginPass(ulong? seed)
    {
        BeginTraining();
        ulong begun = _passesBegun++;
        return seed ?? begun;
    }

    private Tensor EnsureBuffer(Tensor? buffer, long rows, long columns)
    {
        // A buffer disposed by an earlier call whose reallocation failed is replaced, not reused.
        if (buffer is not null && !buffer.IsDisposed && buffer.Shape[0] >= rows && buffer.Shape[1] == columns)
        {
            return buffer;
        }
        buffer?.Dispose();
        _logger.LogDebug("Upload buffer of {Rows} x {Columns} on {Device}", rows, columns, Module.Device);
        return new Tensor(Module.Device, rows, columns);
    }

    private void TrainMacroBatch(Tensor data, Tensor target, long macroIndex, BatchOrder order, ulong seed)
    {
        long batchCount = BatchSchedule.CountBatches(data.Shape[0], BatchSize);
        CurrentMacroBatch = macroIndex;
        TotalBatches = batchCount;
        _logger.LogDebug("Macro-batch {MacroBatch}: rows {Rows}, batches {Batches}", macroIndex, data.Shape[0], batchCount);
        RunSteps(data, target, macroIndex * batchCount, batchCount, order, seed);
    }

    private void RunSteps(Tensor data, Tensor target, long firstStep, long steps, BatchOrder order, ulong seed)
    {
        var schedule = new BatchSchedule(data.Shape[0], BatchSize, order, seed);
        Linear? fused = UseFusedSteps ? Module as Linear : null;

        if (fused is not null && OnBatchFinish is null)
        {
            NativeOps.LinearMseSgdTrain(data, target, fused.W, fused.B, Optimizer.LearnRate, BatchSize,
                firstStep, steps, order, seed, Cost.ErrorTensor, Cost.AccumulatorTensor);
            Cost.MarkErrorWritten();
            BatchesTrained += steps;
            SamplesTrained += schedule.SamplesIn(firstStep, steps);
            CurrentBatch = schedule.BatchAt(firstStep + steps - 1);
            return;
        }

        for (long i = 0; i < steps; i++)
        {
            CheckReady();  // a callback may have disposed something, or set the optimizer up on another module
            if (!Module.IsTraining)
            {
                Module.TrainMode();  // a callback may have run a Validator, which leaves eval mode: every step trains
            }
            long batch = schedule.BatchAt(firstStep + i);
            var (first, count) = schedule.RowsOf(batch);
            if (fused is not null)
            {
                // One fused step on this batch, with no view per step: the sequential order's step `batch`
                // is that batch, so the native side need not work the pick out again.
                NativeOps.LinearMseSgdTrain(data, target, fused.W, fused.B, Optimizer.LearnRate, BatchSize,
                    batch, 1, BatchOrder.Sequential, 0, Cost.ErrorTensor, Cost.AccumulatorTensor);
                Cost.MarkErrorWritten();
            }
            else if (count == schedule.Rows)
            {
                GenericStep(data, target);
            }
            else
            {
                using Tensor x = data.SliceRows(first, count);
                using Tensor t = target.SliceRows(first, count);
                GenericStep(x, t);
            }

            CurrentBatch = batch;
            BatchesTrained++;
            SamplesTrained += count;
            BatchLog.Trained(_logger, batch, first, first + count - 1);
            RunCallback(OnBatchFinish);
        }
    }

    /// <summary>
    /// Runs a callback with the module and the cost free for other threads: it may hand work to another thread and
    /// wait for it (a UI's <c>Dispatcher.Invoke</c>, <c>Task.Run(…).Wait()</c>). Both are taken back after it, and
    /// training stops with <see cref="InvalidOperationException"/> if another thread still uses one of them then;
    /// an exception of the callback's own (a cancellation) is the one the caller gets, even so.
    /// </summary>
    private void RunCallback(Action<Trainer>? callback)
    {
        if (callback is null)
        {
            return;
        }
        SingleThreadGuard.Handover module = Module.Guard.Release();
        SingleThreadGuard.Handover cost = Cost.Guard.Release();
        Interlocked.Increment(ref _callbackDepth);
        try
        {
            callback(this);
        }
        catch
        {
            TakeBack(cost);
            TakeBack(module);
            throw;
        }
        finally
        {
            Interlocked.Decrement(ref _callbackDepth);
        }
        cost.Dispose();
        module.Dispose();

        static void TakeBack(SingleThreadGuard.Handover handover)
        {
            try
            {
                handover.Dispose();
            }
            catch (InvalidOperationException)
            {
                // Still used by another thread: the call ends with the callback's exception all the same.
            }
        }
    }

    private void GenericStep(Tensor x, Tensor t)
    {
        Tensor prediction = Module.Forward(x);
        var (_, grad) = Cost.Compute(prediction, t);
        Module.ZeroGradParams();
        Module.Backward(grad, updGrad: false);
        Optimizer.Update();
    }

    private void LogFinished(long rows)
    {
        if (_logger.IsEnabled(LogLevel.Information))
        {
            double mean = Cost.MeanError;
            _logger.LogInformation("Training finished: samples {Rows}, batch size {BatchSize}, mean error {MeanError}, batches in total {Batches}",
                rows, BatchSize, mean, BatchesTrained);
            LogIfDiverged(mean);
        }
    }

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(Trainer));
        }
    }

    /// <summary>Warns when a call's mean error is not finite, once until a call ends finite again (a call that trained nothing changes nothing).</summary>
    private void LogIfDiverged(double meanError)
    {
        if (double.IsFinite(meanError))
        {
            _divergenceLogged = false;
            return;
        }
        if (_divergenceLogged || Cost.SampleCount == 0)
        {
            return;
        }
        _divergenceLogged = true;
        _logger.LogWarning(
            "Training diverged: the mean error is {MeanError}. The learning rate {LearnRate} may be too large for this data, " +
            "or the data holds NaN or infinity (host data is checked for them, device data is not).",
            meanError, Optimizer.LearnRate);
    }
}
