using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NeuronInterop.Benchmarks;

/// <summary>The results of one benchmark run; renders as a text table (<see cref="ToTable"/>) and as JSON (<see cref="ToJson"/>).</summary>
public sealed record BenchmarkReport
{
    /// <summary>"NeuronInterop".</summary>
    public string Tool { get; init; } = "NeuronInterop";

    /// <summary>The native library's version.</summary>
    public string NativeVersion { get; init; } = "";

    /// <summary>Where the native library was loaded from.</summary>
    public string NativeLibrary { get; init; } = "";

    /// <summary>The device measured, as <see cref="NeuronInterop.Device.ToString"/> writes it ("host", "cuda:0").</summary>
    public string Device { get; init; } = "";

    /// <summary>The device's name (the GPU's, or the host's processor count).</summary>
    public string DeviceName { get; init; } = "";

    /// <summary>"host" or "cuda".</summary>
    public string Backend { get; init; } = "";

    /// <summary>Whether the quick sizes ran.</summary>
    public bool Quick { get; init; }

    /// <summary>When the run started.</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>How the operations behind <see cref="BenchmarkResult.Tflops"/> are counted.</summary>
    public string FlopCount { get; init; } = BenchmarkCase.FlopCountNote;

    /// <summary>How the timings were taken.</summary>
    public string TimingMethod { get; init; } = "";

    /// <summary>The PyTorch result file the ratios come from, or null.</summary>
    [JsonPropertyName("pytorch_source")]
    public string? PyTorchSource { get; init; }

    /// <summary>The PyTorch version and GPU of that file.</summary>
    [JsonPropertyName("pytorch_version")]
    public string? PyTorchVersion { get; init; }

    /// <summary>One entry per case and variant.</summary>
    public IReadOnlyList<BenchmarkResult> Results { get; init; } = [];

    /// <summary>Every case was measured and every correctness check passed (targets aside).</summary>
    [JsonIgnore]
    public bool AllCorrect => Results.All(r => r.Error is null && r.Check is { Passed: true });

    /// <summary><see cref="AllCorrect"/>, and no judged target was missed.</summary>
    [JsonIgnore]
    public bool AllPassed => AllCorrect && Results.All(r => r.Target?.Status != TargetResult.Miss);

    /// <summary>Adds PyTorch's timings of the same cases, the ratios NeuronInterop / PyTorch and the target verdicts.</summary>
    public BenchmarkReport WithPyTorch(PyTorchReport pytorch, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(pytorch);
        var report = this with
        {
            PyTorchSource = source,
            PyTorchVersion = $"torch {pytorch.TorchVersion ?? "?"} on {pytorch.DeviceName ?? "?"}",
            Results = Results.Select(r => r with { PyTorch = Compare(r, pytorch) }).ToArray(),
        };
        return report.WithTargets();
    }

    /// <summary>Judges every result against the project's targets (see <see cref="Targets"/>).</summary>
    public BenchmarkReport WithTargets() => this with { Results = Results.Select(r => r with { Target = Targets.Judge(this, r) }).ToArray() };

    private PyTorchComparison Compare(BenchmarkResult ours, PyTorchReport pytorch)
    {
        var eager = pytorch.Find(ours.CaseId, "eager");
        var graph = pytorch.Find(ours.CaseId, "graph");
        if (eager is null && graph is null)
            return new PyTorchComparison { Note = $"no PyTorch result for case {ours.CaseId}" };

        var differences = Differences(ours, (eager ?? graph)!, pytorch);
        if (differences.Count > 0)
        {
            return new PyTorchComparison
            {
                EagerSecondsPerStep = eager?.SecondsPerStep,
                GraphSecondsPerStep = graph?.SecondsPerStep,
                Note = "not compared: " + string.Join("; ", differences),
            };
        }

        double? Ratio(PyTorchResult? p) => ours.Error is null && p is not null ? ours.SecondsPerStep / p.SecondsPerStep : null;
        return new PyTorchComparison
        {
            EagerSecondsPerStep = eager?.SecondsPerStep,
            GraphSecondsPerStep = graph?.SecondsPerStep,
            RatioToEager = Ratio(eager),
            RatioToGraph = Ratio(graph),
        };
    }

    /// <summary>What makes PyTorch's run of a case other work than ours: sizes, rows, quick mode, device.</summary>
    private List<string> Differences(BenchmarkResult ours, PyTorchResult theirs, PyTorchReport pytorch)
    {
        var differences = new List<string>();
        var ic = CultureInfo.InvariantCulture;
        if (theirs.Batch != ours.Batch || theirs.InSize != ours.InSize || theirs.OutSize != ours.OutSize)
            differences.Add(string.Create(ic, $"sizes differ: PyTorch ran batch {theirs.Batch}, {theirs.InSize} → {theirs.OutSize}"));
        if (theirs.Rows is { } rows && rows != ours.Rows)
            differences.Add(string.Create(ic, $"PyTorch drew its batches from {rows:N0} rows, this run from {ours.Rows:N0}"));
        if (pytorch.Quick != Quick)
            differences.Add($"PyTorch ran its {(pytorch.Quick ? "quick" : "full")} mode, this run its {(Quick ? "quick" : "full")} mode");
        if (pytorch.Device is { } device && device == "cuda" != (Backend == "cuda"))
            differences.Add($"PyTorch ran on {device}, this run on {Backend}");
        return differences;
    }

    /// <summary>The report as indented JSON (snake_case names).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, ReportJson.Options);

    /// <summary>Writes <see cref="ToJson"/> to a file, creating its folder.</summary>
    public void WriteJson(string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
            Directory.CreateDirectory(folder);
        File.WriteAllText(path, ToJson() + Environment.NewLine);
    }

    /// <summary>Parses a report written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">The text is not a benchmark report.</exception>
    public static BenchmarkReport FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<BenchmarkReport>(json, ReportJson.Options)
                   ?? throw new InvalidDataException("The JSON holds no benchmark report.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Not a benchmark report: {e.Message}", e);
        }
    }

    /// <summary>The report as a plain-text table, one line per case and variant, with notes below.</summary>
    public string ToTable()
    {
        var hasPyTorch = Results.Any(r => r.PyTorch is not null);
        var header = new List<string> { "case", "variant", "batch", "in → out", "time/step", "steps/s", "TFLOP/s", "check max|diff|" };
        if (hasPyTorch)
            header.AddRange(["torch eager", "torch graph", "× eager", "× graph"]);
        header.AddRange(["target", "status"]);

        var rows = new List<string[]>();
        foreach (var r in Results)
        {
            var row = new List<string> { r.CaseId, r.Variant, r.Batch.ToString("N0", CultureInfo.InvariantCulture), $"{r.InSize} → {r.OutSize}" };
            if (r.Error is not null)
                row.AddRange(["error", "", "", ""]);
            else
                row.AddRange([FormatSeconds(r.SecondsPerStep), FormatRate(r.StepsPerSecond), FormatTflops(r.Tflops), FormatCheck(r.Check)]);
            if (hasPyTorch)
            {
                var p = r.PyTorch;
                row.AddRange([FormatSeconds(p?.EagerSecondsPerStep), FormatSeconds(p?.GraphSecondsPerStep), FormatRatio(p?.RatioToEager), FormatRatio(p?.RatioToGraph)]);
            }
            row.AddRange([r.Target?.Goal ?? "", r.Target is null ? "" : r.Target.Detail.Length == 0 ? r.Target.Status : $"{r.Target.Status} ({r.Target.Detail})"]);
            rows.Add(row.ToArray());
        }

        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"NeuronInterop benchmarks on {Device} ({DeviceName}){(Quick ? ", quick mode" : "")}");
        AppendRow(text, header, widths);
        AppendRow(text, widths.Select(w => new string('-', w)).ToArray(), widths);
        foreach (var row in rows)
            AppendRow(text, row, widths);

        text.AppendLine();
        foreach (var group in Results.GroupBy(r => r.CaseId))
            text.AppendLine(CultureInfo.InvariantCulture, $"{group.Key}: {group.First().Rows:N0} rows on the device, {group.First().Scale}");
        foreach (var r in Results.Where(r => r.Error is not null))
            text.AppendLine(CultureInfo.InvariantCulture, $"{r.CaseId}/{r.Variant} failed: {r.Error}");
        foreach (var r in Results.Where(r => r.PyTorch?.Note is not null))
            text.AppendLine(CultureInfo.InvariantCulture, $"{r.CaseId}/{r.Variant}: {r.PyTorch!.Note}");
        var targets = Results.Where(r => r.Target is not null).Select(r => r.Target!.Status).ToArray();
        if (targets.Length > 0)
        {
            int Count(string status) => targets.Count(s => s == status);
            text.AppendLine(CultureInfo.InvariantCulture,
                $"targets: {Count(TargetResult.Pass)} met, {Count(TargetResult.Miss)} missed, {Count(TargetResult.NotJudged)} not judged");
        }
        text.AppendLine(FlopCount);
        text.AppendLine(TimingMethod);
        text.AppendLine(CultureInfo.InvariantCulture,
            $"check: one step on the measured device against the host backend and a float64 reference, on sampled output columns; tolerance {CorrectnessCheck.RelativeTolerance:0e0} × the largest reference value");
        if (PyTorchVersion is not null)
            text.AppendLine(CultureInfo.InvariantCulture, $"PyTorch: {PyTorchVersion}{(PyTorchSource is null ? "" : $" ({PyTorchSource})")}; × = NeuronInterop time / PyTorch time, below 1 is faster");
        return text.ToString();
    }

    private static void AppendRow(StringBuilder text, IReadOnlyList<string> cells, int[] widths)
    {
        for (var i = 0; i < cells.Count; i++)
        {
            text.Append(cells[i].PadRight(widths[i]));
            text.Append(i + 1 < cells.Count ? "  " : "");
        }
        text.Append('\n');
    }

    private static string FormatCheck(CorrectnessResult? check) =>
        check is null ? "-" : string.Create(CultureInfo.InvariantCulture, $"{Math.Max(check.MaxAbsDiffHost, check.MaxAbsDiffReference):0.0e0} {(check.Passed ? "ok" : "FAIL")}");

    private static string FormatTflops(double tflops) =>
        tflops >= 0.01 ? tflops.ToString("0.##", CultureInfo.InvariantCulture) : tflops.ToString("0.0e0", CultureInfo.InvariantCulture);

    private static string FormatRatio(double? ratio) => ratio is { } r ? r.ToString("G3", CultureInfo.InvariantCulture) : "-";

    /// <summary>Seconds with a readable unit: "830 µs", "1.05 µs", "11.0 ms".</summary>
    internal static string FormatSeconds(double? seconds)
    {
        if (seconds is not { } s || !double.IsFinite(s))
            return "-";
        var (value, unit) = s switch
        {
            >= 1 => (s, "s"),
            >= 1e-3 => (s * 1e3, "ms"),
            >= 1e-6 => (s * 1e6, "µs"),
            _ => (s * 1e9, "ns"),
        };
        return string.Create(CultureInfo.InvariantCulture, $"{value:G3} {unit}");
    }

    /// <summary>A rate with a readable multiplier: "1.23 M", "950 k".</summary>
    internal static string FormatRate(double rate) => rate switch
    {
        >= 1e9 => string.Create(CultureInfo.InvariantCulture, $"{rate / 1e9:G3} G"),
        >= 1e6 => string.Create(CultureInfo.InvariantCulture, $"{rate / 1e6:G3} M"),
        >= 1e3 => string.Create(CultureInfo.InvariantCulture, $"{rate / 1e3:G3} k"),
        _ => rate.ToString("G3", CultureInfo.InvariantCulture),
    };
}

/// <summary>The JSON settings shared by the report and the PyTorch result file.</summary>
internal static class ReportJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
