using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace NeuronInterop.Cli.RestoreLine;

/// <summary>The final table and <c>summary.json</c>.</summary>
internal static class Summary
{
    public const string FileName = "summary.json";

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // Titles hold "+" and "·": keep them readable (the file is not embedded in HTML).
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>summary.json: the options used, the device, each run's numbers and the figure files.</summary>
    public static string Write(RestoreLineResult result, IReadOnlyList<FigureFile> figures, string directory)
    {
        var options = result.Options;
        var document = new SummaryDocument(
            Command: "restore-line",
            Options: new SummaryOptions(options.Steps, options.NoBiasOnly ? null : options.ShortSteps, options.LearningRate, options.BatchSize,
                options.Seed, options.DeviceName, options.NoBiasOnly, options.SaveNeurons, options.Slope, options.Intercept,
                RestoreLineOptions.PointCount, RestoreLineOptions.XMin, RestoreLineOptions.XMax,
                RestoreLineOptions.InitialWeight, RestoreLineOptions.InitialBias, directory),
            Device: result.Device,
            Runs: result.Runs.Select(run => new SummaryRun(
                Name: run.Kind switch { RunKind.Short => "short", RunKind.Long => "long", _ => "noBias" },
                run.Steps, run.UseBias,
                Neuron(run.HandMade), Neuron(run.Library),
                options.NeuronFileName(run.Kind))).ToArray(),
            Figures: figures.Select(f => new SummaryFigure(f.TutorialFigure, f.FileName, f.Title, f.Width, f.Height)).ToArray());

        string path = Path.Combine(directory, FileName);
        File.WriteAllText(path, JsonSerializer.Serialize(document, JsonOptions) + Environment.NewLine);
        return path;
    }

    /// <summary>w, b and the final error of every neuron in every run.</summary>
    public static void WriteTable(IAnsiConsole console, RestoreLineResult result)
    {
        var table = new Table()
            .Title($"Restoring {Markup.Escape(result.Options.LineText)}: learnt w and b (library on {Markup.Escape(result.Device)})")
            .AddColumn("Run")
            .AddColumn("Neuron")
            .AddColumn(new TableColumn("w").RightAligned())
            .AddColumn(new TableColumn("b").RightAligned())
            .AddColumn(new TableColumn($"Error, all {RestoreLineOptions.PointCount} points").RightAligned());
        foreach (var run in result.Runs)
        {
            table.AddRow(Markup.Escape(run.Description), "hand-made",
                F(run.HandMade.W), run.UseBias ? F(run.HandMade.B) : "-", E(run.HandMade.FinalError));
            table.AddRow(Markup.Escape(run.Description), "library",
                F(run.Library.W), run.UseBias ? F(run.Library.B) : "-", E(run.Library.FinalError));
        }
        table.Caption($"Error: Σ(y − ŷ)² / 2N over all {RestoreLineOptions.PointCount} points after training.\n" +
                      "(--verbosity detailed logs each step's error on its batch.)");
        console.Write(table);
    }

    private static SummaryNeuron Neuron(NeuronResult neuron) =>
        new(neuron.W, neuron.B, neuron.FinalError, neuron.LastStepError);

    private static string F(float value) => NumberText.Format(value);
    private static string E(double value) => value.ToString("0.000E+00", CultureInfo.InvariantCulture);

    internal sealed record SummaryDocument(string Command, SummaryOptions Options, string Device,
        SummaryRun[] Runs, SummaryFigure[] Figures);

    /// <param name="ShortSteps">The short run's steps; null with <c>--no-bias</c>, which has none.</param>
    internal sealed record SummaryOptions(int Steps, int? ShortSteps, float LearningRate, int BatchSize, int Seed,
        string Device, bool NoBiasOnly, bool Save, float Slope, float Intercept, int Points, float XMin, float XMax,
        float InitialWeight, float InitialBias, string Out);

    /// <param name="LibraryFile">The saved library neuron's file name in the output folder; null without <c>--save</c>.</param>
    internal sealed record SummaryRun(string Name, int Steps, bool UseBias, SummaryNeuron HandMade, SummaryNeuron Library,
        string? LibraryFile);

    /// <param name="FinalError">Σ(y − ŷ)² / 2N over all points after training.</param>
    /// <param name="LastStepError">The last step's batch error: on that step's samples, before its update.</param>
    internal sealed record SummaryNeuron(float W, float B, double FinalError, float LastStepError);

    /// <param name="TutorialFigure">The tutorial's number for the picture the figure reproduces; null for the learning curve.</param>
    internal sealed record SummaryFigure(int? TutorialFigure, string File, string Title, int Width, int Height);
}
