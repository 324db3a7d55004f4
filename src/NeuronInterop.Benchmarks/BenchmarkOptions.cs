namespace NeuronInterop.Benchmarks;

/// <summary>What <see cref="BenchmarkRunner.Run"/> measures.</summary>
public sealed record BenchmarkOptions
{
    /// <summary>The device to measure: "auto", "host", "cuda" or "cuda:N" (see <see cref="NeuronInterop.Device.FromName"/>).</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Tiny sizes and a few iterations, so that the whole run takes seconds (for CI).</summary>
    public bool Quick { get; init; }

    /// <summary>Case ids to run (see <see cref="BenchmarkRunner.CaseIds"/>); null or empty runs all of them.</summary>
    public IReadOnlyList<string>? Cases { get; init; }

    /// <summary>A result file of bench/pytorch_bench.py; when given, the report adds the ratio NeuronInterop / PyTorch per case and judges the targets.</summary>
    public string? PyTorchJsonPath { get; init; }

    /// <summary>Number of timed repeats per measurement (the median is reported); null picks 7, or 3 in quick mode.</summary>
    public int? Repeats { get; init; }

    /// <summary>Least wall time of one timed repeat, in seconds; null picks 0.15 s, or none in quick mode.</summary>
    public double? MinRepeatSeconds { get; init; }
}
