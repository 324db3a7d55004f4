using System.CommandLine;
using Microsoft.Extensions.Logging;
using NeuronInterop.Benchmarks;
using NeuronInterop.Cli.Infrastructure;

namespace NeuronInterop.Cli.Bench;

/// <summary>
/// <c>neuron bench</c>: wiring to <see cref="BenchmarkRunner"/> (src/NeuronInterop.Benchmarks). All of the
/// subcommand's coupling to that library lives in this file.
/// </summary>
internal static class BenchCommand
{
    /// <summary>Exit code when a result failed its correctness check, had none, or could not be measured.</summary>
    public const int ExitCheckFailed = 3;

    public static Command Create(CliContext context, Option<string> verbosity)
    {
        var device = OptionParsers.DeviceOption("Device to measure: auto, host, cuda or cuda:N.");
        var quick = new Option<bool>("--quick")
        {
            Description = "Tiny sizes and few iterations: the whole run takes seconds (CI).",
        };
        var cases = new Option<string[]>("--case")
        {
            Description = $"Case to run (repeatable): {string.Join(", ", BenchmarkRunner.CaseIds)}. Default: all.",
            AllowMultipleArgumentsPerToken = true,
            HelpName = "id",
        };
        cases.Validators.Add(r =>
        {
            string[] ids = CaseIds(r.GetValueOrDefault<string[]>());
            string[] unknown = [.. ids.Where(id => !BenchmarkRunner.CaseIds.Contains(id))];
            if (ids.Length == 0)
                r.AddError($"--case must name a case: {string.Join(", ", BenchmarkRunner.CaseIds)}.");
            else if (unknown.Length > 0)
                r.AddError($"--case must be one of {string.Join(", ", BenchmarkRunner.CaseIds)} (got '{string.Join(", ", unknown)}').");
        });
        var json = new Option<string?>("--json")
        {
            Description = "Also write the report as JSON to this file.",
            HelpName = "file",
        };
        var pytorch = new Option<string?>("--pytorch")
        {
            Description = "A result file of bench/pytorch_bench.py: adds the ratio NeuronInterop / PyTorch per case and judges the targets.",
            HelpName = "file",
        };
        var repeats = new Option<int?>("--repeats")
        {
            Description = "Timed repeats per measurement (the median is reported). Default: 7, or 3 with --quick.",
            HelpName = "count",
            CustomParser = r => OptionParsers.Int("--repeats", 1, 1000, "an integer from 1 to 1000")(r),
        };

        var command = new Command("bench",
            "Run the benchmark cases (tutorial, huge batch, mid, large): a Linear layer trained with MSE and SGD " +
            $"through the Trainer. Prints a table; --json writes the report. Exit code {ExitCheckFailed} when a result " +
            "fails its correctness check against the host backend or could not be measured.")
        {
            device, quick, cases, json, pytorch, repeats,
        };
        command.SetAction(parse =>
        {
            // The JSON report's folder is checked before minutes of measuring, not after.
            string? jsonPath = parse.GetValue(json) is { } path ? OutputFolder.PrepareFile(path, "--json") : null;
            string? pytorchPath = parse.GetValue(pytorch);
            if (pytorchPath is not null && !File.Exists(pytorchPath))
                throw new CliException(Directory.Exists(pytorchPath)
                    ? $"--pytorch: '{pytorchPath}' is a folder: name a result file of bench/pytorch_bench.py."
                    : $"--pytorch: there is no file '{pytorchPath}'.");
            Verbosity.TryParse(parse.GetValue(verbosity), out var level);
            using var loggerFactory = context.CreateLoggerFactory(level);
            var options = new BenchmarkOptions
            {
                Device = parse.GetValue(device)!,
                Quick = parse.GetValue(quick),
                Cases = parse.GetValue(cases) is { Length: > 0 } ids ? CaseIds(ids) : null,
                PyTorchJsonPath = pytorchPath,
                Repeats = parse.GetValue(repeats),
            };
            BenchmarkReport report = BenchmarkRunner.Run(options, loggerFactory.CreateLogger("neuron.bench"));
            // The table first: a report that cannot be written (a full disk) then loses no measurement.
            context.Output.WriteLine(report.ToTable());
            if (jsonPath is not null)
            {
                OutputFolder.Write("--json", () => { report.WriteJson(jsonPath); return jsonPath; }, "the table above has the results");
                context.Output.WriteLine($"JSON report: {jsonPath}");
            }
            return ExitCodeFor(report);
        });
        return command;
    }

    /// <summary>
    /// Success when every result was measured and passed its check (<see cref="BenchmarkReport.AllCorrect"/>), else
    /// <see cref="ExitCheckFailed"/>.
    /// </summary>
    internal static int ExitCodeFor(BenchmarkReport report) => report.AllCorrect ? CliApplication.ExitOk : ExitCheckFailed;

    /// <summary>The case ids of repeated and comma-separated <c>--case</c> values.</summary>
    private static string[] CaseIds(string[]? values) =>
        [.. (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))];
}
