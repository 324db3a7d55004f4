using System.Globalization;

namespace NeuronInterop.Benchmarks;

/// <summary>
/// The project's performance targets for the full-size CUDA run: the tutorial case at ≥ 200,000 steps/s
/// through the ordinary Trainer path and ≥ 900,000 steps/s device-resident; huge batch ≤ 0.1 ×,
/// mid ≤ 1.0 × and large ≤ 1.2 × PyTorch eager's time per step; every step equal to the host backend
/// within float tolerance.
/// </summary>
internal static class Targets
{
    private sealed record Goal(string CaseId, string Variant, double? MinStepsPerSecond, double? MaxRatioToEager)
    {
        public string Text => MinStepsPerSecond is { } min
            ? string.Create(CultureInfo.InvariantCulture, $"≥ {min:N0} steps/s")
            : string.Create(CultureInfo.InvariantCulture, $"≤ {MaxRatioToEager:0.0#} × PyTorch eager");
    }

    private static readonly Goal[] Goals =
    [
        new("tutorial", Variants.Trainer, 200_000, null),
        new("tutorial", Variants.DeviceResident, 900_000, null),
        new("huge", Variants.Trainer, null, 0.1),
        new("mid", Variants.Trainer, null, 1.0),
        new("large", Variants.Trainer, null, 1.2),
    ];

    /// <summary>Judges a result against its target; null when the case and variant have none.</summary>
    public static TargetResult? Judge(BenchmarkReport report, BenchmarkResult result)
    {
        var goal = Goals.FirstOrDefault(g => g.CaseId == result.CaseId && g.Variant == result.Variant);
        if (goal is null)
            return null;

        TargetResult Verdict(string status, string detail) => new() { Goal = goal.Text, Status = status, Detail = detail };

        if (result.Error is not null)
            return Verdict(TargetResult.Miss, "the measurement failed");
        if (report.Backend != "cuda" || report.Quick || result.Scale != "full size")
            return Verdict(TargetResult.NotJudged, "targets apply to the full-size CUDA run");
        if (result.Check is { Passed: false })
            return Verdict(TargetResult.Miss, "the step's results differ from the host backend beyond tolerance");

        if (goal.MinStepsPerSecond is { } min)
        {
            var rate = result.StepsPerSecond;
            var figure = string.Create(CultureInfo.InvariantCulture, $"{rate:N0} steps/s");
            return rate >= min
                ? Verdict(TargetResult.Pass, figure)
                : Verdict(TargetResult.Miss, string.Create(CultureInfo.InvariantCulture, $"{figure}, {(1 - rate / min) * 100:0}% short"));
        }

        var max = goal.MaxRatioToEager!.Value;
        if (result.PyTorch?.RatioToEager is not { } ratio)
            return Verdict(TargetResult.NotJudged, result.PyTorch?.Note ?? "no PyTorch result");
        var text = string.Create(CultureInfo.InvariantCulture, $"{ratio:0.###} × PyTorch eager");
        return ratio <= max
            ? Verdict(TargetResult.Pass, text)
            : Verdict(TargetResult.Miss, string.Create(CultureInfo.InvariantCulture, $"{text}, {ratio / max:0.##} × the allowed time"));
    }
}
