using NeuronInterop.Native;

namespace NeuronInterop.Handlers;

/// <summary>
/// Which batch each step of a training call trains, and how many samples a run of steps covers.
/// </summary>
/// <remarks>
/// <paramref name="Rows"/> rows make <see cref="BatchCount"/> batches of <paramref name="BatchSize"/>
/// rows, the last one smaller when the rows do not divide evenly. Global step <c>s</c> trains batch
/// <c>nrn_batch_index(order, seed, s, BatchCount)</c>, which the host and the device compute alike,
/// so the host can count what a device-resident run trained without waiting for it.
/// </remarks>
/// <param name="Rows">The rows of the data, at least 1.</param>
/// <param name="BatchSize">Rows per batch, at least 1.</param>
/// <param name="Order">How steps pick batches.</param>
/// <param name="Seed">The seed of a shuffled or random order.</param>
internal readonly record struct BatchSchedule(long Rows, long BatchSize, BatchOrder Order, ulong Seed)
{
    /// <summary>The number of batches, the last one possibly smaller.</summary>
    public long BatchCount => CountBatches(Rows, BatchSize);

    /// <summary>The rows of the last batch: <see cref="BatchSize"/> when the rows divide evenly.</summary>
    public long LastBatchRows => Rows - (BatchCount - 1) * BatchSize;

    /// <summary>The number of batches <paramref name="rows"/> rows make.</summary>
    public static long CountBatches(long rows, long batchSize) => (rows + batchSize - 1) / batchSize;

    /// <summary>
    /// The macro-batch a shuffled <see cref="Trainer.TrainFromHost"/> takes at <paramref name="position"/> among
    /// <paramref name="count"/>: the batch <see cref="BatchOrder.Shuffle"/> picks for that step from the seed's bitwise
    /// complement, so that the order of the macro-batches is not the permutation of macro-batch 0's batches.
    /// </summary>
    public static long MacroBatchAt(ulong seed, long position, long count) =>
        NativeOps.BatchIndex(BatchOrder.Shuffle, ~seed, position, count);

    /// <summary>The batch global step <paramref name="step"/> trains.</summary>
    public long BatchAt(long step) => NativeOps.BatchIndex(Order, Seed, step, BatchCount);

    /// <summary>The first row of batch <paramref name="batch"/> and its row count.</summary>
    public (long First, long Count) RowsOf(long batch)
    {
        long first = batch * BatchSize;
        return (first, Math.Min(BatchSize, Rows - first));
    }

    /// <summary>
    /// The rows the global steps [<paramref name="firstStep"/>, <paramref name="firstStep"/> + <paramref name="steps"/>)
    /// train in all: <see cref="BatchSize"/> per step, less for each step that picks the smaller last batch.
    /// </summary>
    public long SamplesIn(long firstStep, long steps)
    {
        long lastRows = LastBatchRows;
        if (lastRows == BatchSize)
        {
            return steps * BatchSize;
        }
        return steps * BatchSize - LastBatchPicks(firstStep, steps) * (BatchSize - lastRows);
    }

    /// <summary>
    /// How many of the steps pick the last batch. Counted arithmetically where the order allows, so that a
    /// long device-resident run does not cost one native call per step on the host.
    /// </summary>
    private long LastBatchPicks(long firstStep, long steps)
    {
        long batchCount = BatchCount;
        long end = firstStep + steps;
        switch (Order)
        {
            case BatchOrder.Sequential:
                // Step s picks s mod n; the steps in [0, x) that pick n - 1 number x / n.
                return end / batchCount - firstStep / batchCount;
            case BatchOrder.Shuffle:
            {
                // Each epoch (steps [e·n, (e + 1)·n)) is a permutation: it picks the last batch exactly once.
                if (firstStep / batchCount == (end - 1) / batchCount)
                {
                    // Within one epoch; the next epoch's start may lie past long.MaxValue.
                    return LastBatchPicksOneByOne(firstStep, end);
                }
                long firstWhole = firstStep % batchCount == 0 ? firstStep : firstStep - firstStep % batchCount + batchCount;
                long endWhole = end - end % batchCount;
                if (firstWhole >= endWhole)
                {
                    return LastBatchPicksOneByOne(firstStep, end);
                }
                return LastBatchPicksOneByOne(firstStep, firstWhole)
                    + (endWhole - firstWhole) / batchCount
                    + LastBatchPicksOneByOne(endWhole, end);
            }
            default:
                return LastBatchPicksOneByOne(firstStep, end);
        }
    }

    private long LastBatchPicksOneByOne(long from, long to)
    {
        long last = BatchCount - 1;
        long picked = 0;
        for (long step = from; step < to; step++)
        {
            if (BatchAt(step) == last)
            {
                picked++;
            }
        }
        return picked;
    }
}
