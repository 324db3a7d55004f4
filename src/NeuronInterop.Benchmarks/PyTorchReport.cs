using System.Text.Json;

namespace NeuronInterop.Benchmarks;

/// <summary>The result file of bench/pytorch_bench.py: the same cases timed with PyTorch.</summary>
public sealed record PyTorchReport
{
    /// <summary>"pytorch".</summary>
    public string Tool { get; init; } = "pytorch";

    /// <summary>torch.__version__.</summary>
    public string? TorchVersion { get; init; }

    /// <summary>The GPU's name ("cpu" on the CPU).</summary>
    public string? DeviceName { get; init; }

    /// <summary>"cuda" or "cpu": where the script ran (null in files written before it said).</summary>
    public string? Device { get; init; }

    /// <summary>Whether the script ran its quick sizes.</summary>
    public bool Quick { get; init; }

    /// <summary>One entry per case and variant (eager, graph); never empty in a parsed report.</summary>
    // Null when the file has none (Parse refuses it): a file without "results" is not one of the script's.
    public IReadOnlyList<PyTorchResult> Results { get; init; } = null!;

    /// <summary>Reads a PyTorch result file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a PyTorch result file.</exception>
    public static PyTorchReport Load(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>Parses the text of a PyTorch result file; <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="InvalidDataException">The text is not a PyTorch result file.</exception>
    public static PyTorchReport Parse(string json, string source = "PyTorch result")
    {
        PyTorchReport? report;
        try
        {
            report = JsonSerializer.Deserialize<PyTorchReport>(json, ReportJson.Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source} is not valid JSON: {e.Message}", e);
        }

        // No "results", "results": null, or a null entry, reads as null.
        if (report?.Results is null || report.Results.Count == 0)
            throw new InvalidDataException($"{source} holds no PyTorch results (bench/pytorch_bench.py --json writes them).");
        foreach (var r in report.Results)
        {
            if (r is null)
                throw new InvalidDataException($"{source}: a result is null.");
            if (string.IsNullOrEmpty(r.CaseId) || string.IsNullOrEmpty(r.Variant))
                throw new InvalidDataException($"{source}: every result needs a case_id and a variant.");
            if (r.Error is null && !(double.IsFinite(r.SecondsPerStep) && r.SecondsPerStep > 0))
                throw new InvalidDataException($"{source}: {r.CaseId}/{r.Variant} has no positive seconds_per_step.");
        }
        return report;
    }

    /// <summary>The result of a case and variant, or null when absent or failed.</summary>
    public PyTorchResult? Find(string caseId, string variant) =>
        Results.FirstOrDefault(r => r.CaseId == caseId && r.Variant == variant && r.Error is null);
}

/// <summary>PyTorch's timing of one case and variant.</summary>
public sealed record PyTorchResult
{
    /// <summary>The case id (tutorial, huge, mid, large).</summary>
    public string CaseId { get; init; } = "";

    /// <summary>"eager" or "graph" (a captured CUDA graph replayed).</summary>
    public string Variant { get; init; } = "";

    /// <summary>Rows per step.</summary>
    public long Batch { get; init; }

    /// <summary>Input features.</summary>
    public int InSize { get; init; }

    /// <summary>Output features.</summary>
    public int OutSize { get; init; }

    /// <summary>Rows of data the batches were drawn from (null in files written before it said).</summary>
    public long? Rows { get; init; }

    /// <summary>Median seconds per training step.</summary>
    public double SecondsPerStep { get; init; }

    /// <summary>Why the script could not time this variant, or null.</summary>
    public string? Error { get; init; }
}
