namespace NeuronInterop.Reference;

/// <summary>
/// Picks the batch trained at a step: <paramref name="step"/> counts from 0 within the macro-batch
/// (or globally, for <see cref="ReferenceTrainer.TrainSteps"/>), <paramref name="batchCount"/> is the
/// number of batches the rows are cut into. Returns a batch index in [0, batchCount).
/// </summary>
/// <param name="macroBatch">The index of the macro-batch (0 for <see cref="ReferenceTrainer.TrainSteps"/>).</param>
/// <param name="step">The step.</param>
/// <param name="batchCount">The number of batches.</param>
public delegate long BatchPicker(long macroBatch, long step, long batchCount);

/// <summary>
/// Picks the macro-batch trained at <paramref name="position"/> (from 0) of a pass over
/// <paramref name="macroBatchCount"/> macro-batches. Returns a macro-batch index in [0, macroBatchCount).
/// </summary>
/// <param name="position">The position in the pass.</param>
/// <param name="macroBatchCount">The number of macro-batches.</param>
public delegate long MacroBatchPicker(long position, long macroBatchCount);

/// <summary>One trained batch: which rows it covered and its error before the update.</summary>
/// <param name="MacroBatch">The macro-batch it came from.</param>
/// <param name="FirstRow">The first row, counted in the whole data set.</param>
/// <param name="RowCount">The number of rows.</param>
/// <param name="Error">The MSE of the batch before the update.</param>
public readonly record struct ReferenceBatch(long MacroBatch, long FirstRow, long RowCount, double Error);

/// <summary>
/// A plain double-precision trainer of one Linear layer with MSE and SGD, with the batch cutting
/// of PuzzleLib's <c>Trainer</c>: the data is cut into macro-batches of <c>macroBatchSize</c> rows,
/// each macro-batch into batches of <see cref="BatchSize"/> rows (a last, smaller batch is kept),
/// and each batch gets one step: forward, <c>grad = (pred − target)/N</c>, <c>dW = XᵀG</c>,
/// <c>db = Σrows G</c>, <c>W -= lr·dW</c>, <c>b -= lr·db</c>.
/// </summary>
public sealed class ReferenceTrainer
{
    private readonly List<ReferenceBatch> _batches = new();

    /// <summary>Creates a trainer whose layer starts with W = 0 and b = 0 (set them through <see cref="W"/> and <see cref="B"/>).</summary>
    /// <param name="inSize">Input features.</param>
    /// <param name="outSize">Output features.</param>
    /// <param name="batchSize">Rows per batch.</param>
    /// <param name="learnRate">The SGD learning rate.</param>
    /// <param name="useBias">Whether the layer has a bias.</param>
    public ReferenceTrainer(int inSize, int outSize, int batchSize, double learnRate, bool useBias = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        InSize = inSize;
        OutSize = outSize;
        BatchSize = batchSize;
        LearnRate = learnRate;
        W = new double[inSize * outSize];
        B = useBias ? new double[outSize] : Array.Empty<double>();
    }

    /// <summary>Input features.</summary>
    public int InSize { get; }

    /// <summary>Output features.</summary>
    public int OutSize { get; }

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; }

    /// <summary>The SGD learning rate; may change between calls.</summary>
    public double LearnRate { get; set; }

    /// <summary>The weight, row-major (inSize × outSize).</summary>
    public double[] W { get; }

    /// <summary>The bias (outSize values), empty without bias.</summary>
    public double[] B { get; }

    /// <summary>Every batch trained since construction, in order.</summary>
    public IReadOnlyList<ReferenceBatch> Batches => _batches;

    /// <summary>The number of batches <paramref name="rows"/> rows are cut into: ⌈rows / batchSize⌉.</summary>
    /// <param name="rows">The number of rows.</param>
    /// <param name="batchSize">Rows per batch.</param>
    /// <returns>The batch count.</returns>
    public static long BatchCount(long rows, long batchSize) => (rows + batchSize - 1) / batchSize;

    /// <summary>Sets W and b from float values (as the library holds them).</summary>
    /// <param name="weight">inSize·outSize values.</param>
    /// <param name="bias">outSize values, ignored without bias.</param>
    public void SetParameters(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias)
    {
        if (weight.Length != W.Length)
        {
            throw new ArgumentException($"weight has {weight.Length} values, expected {W.Length}", nameof(weight));
        }
        for (int i = 0; i < W.Length; i++) W[i] = weight[i];
        if (B.Length > 0)
        {
            if (bias.Length != B.Length)
            {
                throw new ArgumentException($"bias has {bias.Length} values, expected {B.Length}", nameof(bias));
            }
            for (int i = 0; i < B.Length; i++) B[i] = bias[i];
        }
    }

    /// <summary>Y = X·W + b for all rows of <paramref name="data"/>.</summary>
    /// <param name="data">rows × inSize.</param>
    /// <returns>rows × outSize, row-major.</returns>
    public double[] Predict(float[,] data)
    {
        CheckColumns(data, InSize, nameof(data));
        return ReferenceLinear.Forward(ToDouble(data, 0, data.GetLength(0)), W, B, data.GetLength(0), InSize, OutSize);
    }

    /// <summary>
    /// One pass over the data as PuzzleLib's <c>trainFromHost</c> makes it: macro-batches of
    /// <paramref name="macroBatchSize"/> rows in the order <paramref name="macroPicker"/> gives, and
    /// within each the batches in the order <paramref name="picker"/> gives (null: sequential).
    /// </summary>
    /// <param name="data">rows × inSize.</param>
    /// <param name="target">rows × outSize.</param>
    /// <param name="macroBatchSize">Rows per macro-batch (at least <see cref="BatchSize"/>).</param>
    /// <param name="picker">The batch order, or null for sequential.</param>
    /// <param name="macroPicker">The macro-batch order, or null for sequential.</param>
    /// <returns>The batch-weighted mean error: Σ error·rows / Σ rows over the trained batches.</returns>
    public double Train(float[,] data, float[,] target, int macroBatchSize, BatchPicker? picker = null,
        MacroBatchPicker? macroPicker = null)
    {
        CheckData(data, target);
        ArgumentOutOfRangeException.ThrowIfLessThan(macroBatchSize, BatchSize);
        long rows = data.GetLength(0);
        double errorSum = 0.0, sampleCount = 0.0;
        long macroCount = BatchCount(rows, macroBatchSize);
        for (long position = 0; position < macroCount; position++)
        {
            long macroBatch = macroPicker is null ? position : macroPicker(position, macroCount);
            if (macroBatch < 0 || macroBatch >= macroCount)
            {
                throw new InvalidOperationException($"macroPicker returned macro-batch {macroBatch} of {macroCount}");
            }
            long macroStart = macroBatch * macroBatchSize;
            long macroRows = Math.Min(macroBatchSize, rows - macroStart);
            long batchCount = BatchCount(macroRows, BatchSize);
            for (long step = 0; step < batchCount; step++)
            {
                long batch = picker is null ? step : picker(macroBatch, step, batchCount);
                if (batch < 0 || batch >= batchCount)
                {
                    throw new InvalidOperationException($"picker returned batch {batch} of {batchCount}");
                }
                long first = macroStart + batch * BatchSize;
                long count = Math.Min(BatchSize, macroStart + macroRows - first);
                double error = StepOn(data, target, macroBatch, first, count);
                errorSum += error * count;
                sampleCount += count;
            }
        }
        return errorSum / sampleCount;
    }

    /// <summary>
    /// <paramref name="steps"/> steps over the whole data set cut into batches, global step
    /// <c>s = firstStep + i</c> training the batch <c>picker(0, s, batchCount)</c> (null: <c>s mod batchCount</c>).
    /// </summary>
    /// <param name="data">rows × inSize.</param>
    /// <param name="target">rows × outSize.</param>
    /// <param name="firstStep">The first global step.</param>
    /// <param name="steps">The number of steps.</param>
    /// <param name="picker">The batch order, or null for sequential.</param>
    /// <returns>The batch-weighted mean error of the steps.</returns>
    public double TrainSteps(float[,] data, float[,] target, long firstStep, long steps, BatchPicker? picker = null)
    {
        CheckData(data, target);
        long rows = data.GetLength(0);
        long batchCount = BatchCount(rows, BatchSize);
        double errorSum = 0.0, sampleCount = 0.0;
        for (long i = 0; i < steps; i++)
        {
            long s = firstStep + i;
            long batch = picker is null ? s % batchCount : picker(0, s, batchCount);
            long first = batch * BatchSize;
            long count = Math.Min(BatchSize, rows - first);
            double error = StepOn(data, target, 0, first, count);
            errorSum += error * count;
            sampleCount += count;
        }
        return errorSum / sampleCount;
    }

    /// <summary>The batch-weighted mean error over the data in batches of <see cref="BatchSize"/> rows, without training.</summary>
    /// <param name="data">rows × inSize.</param>
    /// <param name="target">rows × outSize.</param>
    /// <returns>Σ error·rows / Σ rows.</returns>
    public double Validate(float[,] data, float[,] target)
    {
        CheckData(data, target);
        long rows = data.GetLength(0);
        double errorSum = 0.0;
        for (long first = 0; first < rows; first += BatchSize)
        {
            int count = (int)Math.Min(BatchSize, rows - first);
            double[] prediction = ReferenceLinear.Forward(ToDouble(data, first, count), W, B, count, InSize, OutSize);
            errorSum += ReferenceMse.Error(prediction, ToDouble(target, first, count)) * count;
        }
        return errorSum / rows;
    }

    private double StepOn(float[,] data, float[,] target, long macroBatch, long first, long count)
    {
        int rows = (int)count;
        double[] x = ToDouble(data, first, rows);
        double[] t = ToDouble(target, first, rows);
        double[] prediction = ReferenceLinear.Forward(x, W, B, rows, InSize, OutSize);
        double error = ReferenceMse.Error(prediction, t);
        double[] grad = ReferenceMse.Grad(prediction, t);
        var weightGrad = new double[W.Length];
        var biasGrad = new double[B.Length];
        ReferenceLinear.Backward(x, W, grad, Span<double>.Empty, weightGrad, biasGrad, rows, InSize, OutSize, accumulate: false);
        ReferenceSgd.Update(W, weightGrad, LearnRate);
        ReferenceSgd.Update(B, biasGrad, LearnRate);
        _batches.Add(new ReferenceBatch(macroBatch, first, count, error));
        return error;
    }

    private void CheckData(float[,] data, float[,] target)
    {
        CheckColumns(data, InSize, nameof(data));
        CheckColumns(target, OutSize, nameof(target));
        if (data.GetLength(0) != target.GetLength(0) || data.GetLength(0) == 0)
        {
            throw new ArgumentException($"data ({data.GetLength(0)} rows) and target ({target.GetLength(0)} rows) must have the same, non-zero row count");
        }
    }

    private static void CheckColumns(float[,] array, int columns, string name)
    {
        if (array.GetLength(1) != columns)
        {
            throw new ArgumentException($"{name} has {array.GetLength(1)} columns, expected {columns}", name);
        }
    }

    private static double[] ToDouble(float[,] array, long firstRow, long rowCount)
    {
        int columns = array.GetLength(1);
        var values = new double[rowCount * columns];
        for (long r = 0; r < rowCount; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                values[r * columns + c] = array[firstRow + r, c];
            }
        }
        return values;
    }
}
