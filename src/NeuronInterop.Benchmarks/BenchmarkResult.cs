using System.Text.Json.Serialization;

namespace NeuronInterop.Benchmarks;

/// <summary>The measurement of one variant of one case.</summary>
public sealed record BenchmarkResult
{
    /// <summary>The case id (tutorial, huge, mid, large), shared with the PyTorch results.</summary>
    public required string CaseId { get; init; }

    /// <summary>The training path measured: trainer, trainer-callback, modules or device-resident.</summary>
    public required string Variant { get; init; }

    /// <summary>What the variant does per step.</summary>
    public string Description { get; init; } = "";

    /// <summary>Rows per training step.</summary>
    public long Batch { get; init; }

    /// <summary>Input features.</summary>
    public int InSize { get; init; }

    /// <summary>Output features.</summary>
    public int OutSize { get; init; }

    /// <summary>Rows of the data set on the device.</summary>
    public long Rows { get; init; }

    /// <summary>How the sizes relate to the full-size case ("full size", "host: batch ÷ 16", ...).</summary>
    public string Scale { get; init; } = "";

    /// <summary>Median over the repeats of the wall time per training step, in seconds.</summary>
    public double SecondsPerStep { get; init; }

    /// <summary>The fastest repeat's time per step, in seconds.</summary>
    public double MinSecondsPerStep { get; init; }

    /// <summary>The slowest repeat's time per step, in seconds.</summary>
    public double MaxSecondsPerStep { get; init; }

    /// <summary>Training steps per second (1 / <see cref="SecondsPerStep"/>).</summary>
    public double StepsPerSecond { get; init; }

    /// <summary>Floating-point operations counted per step (see <see cref="BenchmarkCase.FlopCountNote"/>).</summary>
    public double FlopsPerStep { get; init; }

    /// <summary>Counted operations per second, in TFLOP/s.</summary>
    public double Tflops { get; init; }

    /// <summary>Timed repeats.</summary>
    public int Repeats { get; init; }

    /// <summary>Training steps in each timed repeat.</summary>
    public long StepsPerRepeat { get; init; }

    /// <summary>The comparison of one training step with the host backend and a float64 reference.</summary>
    public CorrectnessResult? Check { get; init; }

    /// <summary>The error that stopped this measurement, or null.</summary>
    public string? Error { get; init; }

    /// <summary>The matching PyTorch timings and ratios, once a PyTorch result file was read.</summary>
    [JsonPropertyName("pytorch")]
    public PyTorchComparison? PyTorch { get; init; }

    /// <summary>The case's target from the project's goals and whether it was met; null where the variant has none.</summary>
    public TargetResult? Target { get; init; }
}

/// <summary>
/// One training step compared on <see cref="CheckedColumns"/> output columns of W and b: the measured device
/// against the host backend, and against a float64 reference. Differences are absolute; the tolerance is
/// <see cref="CorrectnessCheck.RelativeTolerance"/> times the largest reference value.
/// </summary>
public sealed record CorrectnessResult
{
    /// <summary>Output columns compared (each column of W and its bias element depend on no other column).</summary>
    public int CheckedColumns { get; init; }

    /// <summary>Largest |device − host backend| over the compared parameters after the step.</summary>
    public double MaxAbsDiffHost { get; init; }

    /// <summary>Largest |device − float64 reference| over the compared parameters after the step.</summary>
    public double MaxAbsDiffReference { get; init; }

    /// <summary>Largest |reference| over the compared parameters.</summary>
    public double ReferenceMagnitude { get; init; }

    /// <summary>The largest difference allowed.</summary>
    public double Tolerance { get; init; }

    /// <summary>Both differences are within <see cref="Tolerance"/> and every value is finite.</summary>
    public bool Passed { get; init; }
}

/// <summary>PyTorch's timing of the same case and the ratios NeuronInterop / PyTorch (below 1: NeuronInterop is faster).</summary>
public sealed record PyTorchComparison
{
    /// <summary>PyTorch eager: seconds per step.</summary>
    public double? EagerSecondsPerStep { get; init; }

    /// <summary>PyTorch replaying a captured CUDA graph: seconds per step.</summary>
    public double? GraphSecondsPerStep { get; init; }

    /// <summary>Our time per step over PyTorch eager's.</summary>
    public double? RatioToEager { get; init; }

    /// <summary>Our time per step over PyTorch's CUDA-graph time.</summary>
    public double? RatioToGraph { get; init; }

    /// <summary>Why a ratio is missing (no such case in the PyTorch file, different sizes), or null.</summary>
    public string? Note { get; init; }
}

/// <summary>A performance target and whether this run met it.</summary>
public sealed record TargetResult
{
    /// <summary>The target, e.g. "≥ 200,000 steps/s" or "≤ 0.1 × PyTorch eager".</summary>
    public required string Goal { get; init; }

    /// <summary>One of <see cref="Pass"/>, <see cref="Miss"/>, <see cref="NotJudged"/>.</summary>
    public required string Status { get; init; }

    /// <summary>The figure against the goal, and by how much a miss misses.</summary>
    public string Detail { get; init; } = "";

    /// <summary>The target was met.</summary>
    public const string Pass = "pass";

    /// <summary>The target was missed.</summary>
    public const string Miss = "miss";

    /// <summary>This run cannot judge the target (host backend, quick mode, no PyTorch result).</summary>
    public const string NotJudged = "not judged";
}
