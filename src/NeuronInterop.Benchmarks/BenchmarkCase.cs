namespace NeuronInterop.Benchmarks;

/// <summary>
/// One fixed benchmark case: a Linear layer (<see cref="InSize"/> → <see cref="OutSize"/>) trained with
/// MSE and SGD on batches of <see cref="Batch"/> rows drawn from <see cref="Rows"/> rows of data on the device.
/// </summary>
/// <param name="Id">The case id, shared with bench/pytorch_bench.py: tutorial, huge, mid, large.</param>
/// <param name="Title">A short description.</param>
/// <param name="Batch">Rows per training step.</param>
/// <param name="InSize">Input features.</param>
/// <param name="OutSize">Output features.</param>
/// <param name="Rows">Rows of the data set on the device (several batches for the tutorial case, one batch otherwise).</param>
/// <param name="Scale">How these sizes relate to the case's full size on the GPU ("full size", "batch ÷ 16", ...).</param>
public sealed record BenchmarkCase(string Id, string Title, long Batch, int InSize, int OutSize, long Rows, string Scale)
{
    /// <summary>Floating-point operations counted per step: 4·B·I·O (forward 2·B·I·O and weight gradient 2·B·I·O).</summary>
    public double FlopsPerStep => 4.0 * Batch * InSize * OutSize;

    /// <summary>How <see cref="FlopsPerStep"/> is counted, for the report.</summary>
    public const string FlopCountNote =
        "FLOP per step = 4·B·I·O: forward X·W (2·B·I·O) and weight gradient Xᵀ·G (2·B·I·O); " +
        "no input gradient is computed; bias, cost and SGD update are not counted";

    /// <summary>The case ids in report order.</summary>
    public static IReadOnlyList<string> Ids { get; } = ["tutorial", "huge", "mid", "large"];

    /// <summary>The four cases at the sizes used for a backend and mode.</summary>
    public static IReadOnlyList<BenchmarkCase> For(BackendKind backend, bool quick)
    {
        if (quick)
        {
            return
            [
                Tutorial(64, "quick: 64 points instead of 1000"),
                Huge(4_096, "quick: batch ÷ 256"),
                new("mid", MidTitle, 128, 32, 32, 128, "quick: batch ÷ 512, features ÷ 8"),
                new("large", LargeTitle, 64, 128, 128, 64, "quick: batch ÷ 128, features ÷ 32"),
            ];
        }

        if (backend == BackendKind.Host)
        {
            return
            [
                Tutorial(1000, "full size"),
                Huge(65_536, "host: batch ÷ 16"),
                new("mid", MidTitle, 1_024, 256, 256, 1_024, "host: batch ÷ 64"),
                new("large", LargeTitle, 256, 256, 256, 256, "host: batch ÷ 32, features ÷ 16"),
            ];
        }

        return
        [
            Tutorial(1000, "full size"),
            Huge(1_048_576, "full size"),
            new("mid", MidTitle, 65_536, 256, 256, 65_536, "full size"),
            new("large", LargeTitle, 8_192, 4_096, 4_096, 8_192, "full size"),
        ];
    }

    private const string MidTitle = "mid batch, 256 → 256";
    private const string LargeTitle = "large batch, 4096 → 4096";

    private static BenchmarkCase Tutorial(long points, string scale) =>
        new("tutorial", "tutorial neuron 1 → 1, batch 1, shuffled points on the device", 1, 1, 1, points, scale);

    private static BenchmarkCase Huge(long batch, string scale) =>
        new("huge", "huge batch, 1 → 1", batch, 1, 1, batch, scale);
}
