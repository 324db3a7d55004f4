using System.CommandLine;
using Microsoft.Extensions.Logging;
using NeuronInterop.Cli.Infrastructure;
using NeuronInterop.Modules;
using Spectre.Console;

namespace NeuronInterop.Cli.RestoreLine;

/// <summary><c>neuron restore-line</c>: the command plumbing around <see cref="RestoreLineExperiment"/>.</summary>
internal static class RestoreLineCommand
{
    public static Command Create(CliContext context, Option<string> verbosity)
    {
        var defaults = new RestoreLineOptions();
        var steps = new Option<int>("--steps")
        {
            Description = $"Steps of the long run and of the no-bias run, 1 to {RestoreLineOptions.MaxSteps}. The short run has " +
                          $"{RestoreLineOptions.TutorialShortSteps} steps, or --steps when that is smaller.",
            DefaultValueFactory = _ => defaults.Steps,
            HelpName = "count",
            CustomParser = OptionParsers.Int("--steps", 1, RestoreLineOptions.MaxSteps,
                $"an integer from 1 to {RestoreLineOptions.MaxSteps}"),
        };

        var lr = new Option<float>("--lr", "--learning-rate")
        {
            Description = "Learning rate of both neurons (a finite positive number).",
            DefaultValueFactory = _ => defaults.LearningRate,
            HelpName = "rate",
            CustomParser = OptionParsers.Float("--lr", positive: true),
        };

        var batchSize = new Option<int>("--batch-size")
        {
            Description = $"Samples per step, drawn at random from the {RestoreLineOptions.PointCount} points (1 to {RestoreLineOptions.PointCount}).",
            DefaultValueFactory = _ => defaults.BatchSize,
            HelpName = "count",
            CustomParser = OptionParsers.Int("--batch-size", 1, RestoreLineOptions.PointCount,
                $"an integer from 1 to {RestoreLineOptions.PointCount}"),
        };

        var seed = new Option<int>("--seed")
        {
            Description = $"Seed of the System.Random that picks the samples (the same samples for both neurons), 0 to {int.MaxValue}.",
            DefaultValueFactory = _ => defaults.Seed,
            // System.Random takes a negative seed's absolute value: -1 would repeat the run of 1.
            CustomParser = OptionParsers.Int("--seed", 0, int.MaxValue, $"an integer from 0 to {int.MaxValue}"),
        };

        var device = OptionParsers.DeviceOption(
            "Backend of the library neuron: auto (CUDA when a GPU is usable, else host), host, cuda or cuda:N.");

        var output = new Option<string>("--out", "-o")
        {
            Description = "Folder for the figures (PNG) and summary.json; created when missing. Such files (and --save's, and " +
                          $"{Figures.EarlierFileNames[0]} to {Figures.EarlierFileNames[^1]}, the figures as earlier versions named " +
                          "them) that an earlier run left there and this run does not write are removed. One that this run " +
                          "writes and that is read-only, or cannot be written, stops the run before it trains.",
            DefaultValueFactory = _ => "./out",
            HelpName = "folder",
        };
        output.Validators.Add(r =>
        {
            if (string.IsNullOrWhiteSpace(r.GetValueOrDefault<string>()))
                r.AddError("--out must name a folder.");
        });

        var noBias = new Option<bool>("--no-bias")
        {
            Description = "Run only the tutorial's last experiment: both neurons without bias, --steps steps. " +
                          $"Writes the function ({Figures.LinearFunction}), the no-bias figure ({Figures.NoBias}) and its " +
                          $"learning curve ({Figures.LearningCurve}).",
        };

        var save = new Option<bool>("--save")
        {
            Description = "Also save each run's trained library neuron into --out (neuron-short-run.hdf, neuron-long-run.hdf, " +
                          "neuron-no-bias.hdf): HDF5 in PuzzleLib's layout, linked as neuron.W and neuron.b (neuron.W alone " +
                          "without bias), for Module.Load into a Linear(1, 1) named \"neuron\" (with useBias: false for the " +
                          "no-bias file), or for PuzzleLib and h5py.",
        };

        var slope = new Option<float>("--slope")
        {
            Description = $"Slope of the line to restore, f(x) = slope·x + intercept; at most {MaxLineTermText} in size.",
            DefaultValueFactory = _ => defaults.Slope,
            CustomParser = OptionParsers.Float("--slope", positive: false, RestoreLineOptions.MaxLineTerm),
        };
        var intercept = new Option<float>("--intercept")
        {
            Description = $"Intercept of the line to restore; at most {MaxLineTermText} in size.",
            DefaultValueFactory = _ => defaults.Intercept,
            CustomParser = OptionParsers.Float("--intercept", positive: false, RestoreLineOptions.MaxLineTerm),
        };

        var command = new Command("restore-line",
            "Restore a line (by default f(x) = 2x + 3) with a single neuron, as the tutorial does: a hand-made neuron and " +
            "the library's Linear trained side by side on the same samples. Writes the tutorial's Figures 3 to 8 " +
            $"({Figures.LinearFunction} to {Figures.NoBias}) and a learning curve ({Figures.LearningCurve}), " +
            $"{Figures.SingleWidth}x{Figures.SingleHeight} px (side-by-side ones {Figures.PairWidth}x{Figures.PairHeight} px), " +
            "and summary.json into --out.")
        {
            steps, lr, batchSize, seed, device, output, noBias, save, slope, intercept,
        };

        command.SetAction(parse =>
        {
            var options = new RestoreLineOptions
            {
                Steps = parse.GetValue(steps),
                LearningRate = parse.GetValue(lr),
                BatchSize = parse.GetValue(batchSize),
                Seed = parse.GetValue(seed),
                DeviceName = parse.GetValue(device)!,
                OutputDirectory = parse.GetValue(output)!,
                NoBiasOnly = parse.GetValue(noBias),
                SaveNeurons = parse.GetValue(save),
                Slope = parse.GetValue(slope),
                Intercept = parse.GetValue(intercept),
            };
            Verbosity.TryParse(parse.GetValue(verbosity), out var level);
            return Execute(context, options, level);
        });
        return command;
    }

    private static string MaxLineTermText => RestoreLineOptions.MaxLineTerm.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static int Execute(CliContext context, RestoreLineOptions options, LogLevel level)
    {
        // Everything that can fail on bad input fails here, before anything is logged or trained.
        string outputDirectory = OutputFolder.Prepare(options.OutputDirectory);
        options = options with { OutputDirectory = outputDirectory };
        OutputFolder.CheckFiles(outputDirectory, OutputFiles(options));

        using var loggerFactory = context.CreateLoggerFactory(level);
        var logger = loggerFactory.CreateLogger("neuron.restore-line");
        using var device = NeuronInterop.Device.FromName(options.DeviceName, logger);

        logger.LogInformation(
            "Restoring {Line} from {Points} points on [{XMin}, {XMax}] with the library neuron on {Device}",
            options.LineText, RestoreLineOptions.PointCount, RestoreLineOptions.XMin,
            RestoreLineOptions.XMax, device);

        // A live bar only on a terminal, and not when every step is logged (the two would interleave).
        bool progressBar = context.IsInteractive && level > LogLevel.Debug;
        RestoreLineResult result = progressBar
            ? RunWithProgressBar(context.Console, options, device, loggerFactory)
            : new RestoreLineExperiment(options, device, loggerFactory).Run(new LogProgress(logger));

        // The table first: files that cannot be written (a full disk) then lose no result. Standard output that cannot
        // be written loses the table alone: the files are written, and the error says they hold the results.
        IOException? unwritableOutput = null;
        try
        {
            Summary.WriteTable(context.Console, result);
        }
        catch (IOException e)
        {
            unwritableOutput = e;
        }
        var (figures, summaryPath) = OutputFolder.Write("--out", () =>
        {
            IReadOnlyList<FigureFile> written = Figures.WriteAll(result, outputDirectory);
            SaveNeurons(result, options, device, logger);
            return (written, Summary.Write(result, written, outputDirectory));
        }, unwritableOutput is null
            ? "the table above has this run's results"
            : $"nor could the table of results be written to standard output ({CliApplication.OneLine(unwritableOutput.Message).TrimEnd('.')})");
        if (unwritableOutput is not null)
        {
            throw new CliException(
                $"cannot write to standard output ({unwritableOutput.Message}): the figures and {Path.GetFileName(summaryPath)} " +
                $"in {outputDirectory} hold this run's results.", unwritableOutput);
        }
        context.Output.WriteLine($"Figures ({figures.Count}) and {Path.GetFileName(summaryPath)} are in {outputDirectory}");
        foreach (var figure in figures)
            context.Output.WriteLine($"  {figure.FileName}");
        if (options.SaveNeurons)
        {
            context.Output.WriteLine($"Library neurons saved ({result.Runs.Count}), for Module.Load into a Linear named \"{RestoreLineOptions.NeuronName}\":");
            foreach (var run in result.Runs)
                context.Output.WriteLine($"  {options.NeuronFileName(run.Kind)}: {run.Description}");
        }

        // The files of an earlier run into this folder that this run does not write would read as its own. They go
        // last: a file that cannot be removed then stops the command with this run's results already written.
        IReadOnlyList<string> removed = OutputFolder.RemoveFiles(outputDirectory, KnownOutputFiles.Except(OutputFiles(options)));
        if (removed.Count > 0)
            context.Output.WriteLine($"Removed {NumberText.Count(removed.Count, "file")} of an earlier run: {string.Join(", ", removed)}");
        return CliApplication.ExitOk;
    }

    /// <summary>
    /// With --save, saves each run's trained library neuron (its <c>w</c> and <c>b</c>, which the result keeps) as a
    /// <see cref="Linear"/> named <see cref="RestoreLineOptions.NeuronName"/>, for <see cref="Module.Load(string)"/>.
    /// </summary>
    private static void SaveNeurons(RestoreLineResult result, RestoreLineOptions options, Device device, ILogger logger)
    {
        foreach (var run in result.Runs)
        {
            if (options.NeuronFileName(run.Kind) is not { } file)
                continue;
            using var neuron = new Linear(1, 1, run.UseBias, InitScheme.None, device: device, name: RestoreLineOptions.NeuronName);
            neuron.W.Fill(run.Library.W);
            neuron.B?.Fill(run.Library.B);
            string path = Path.Combine(options.OutputDirectory, file);
            neuron.Save(path);
            logger.LogDebug("{Run}: library neuron saved as {File}", run.Description, path);
        }
    }

    /// <summary>The files (names in --out) a run of <paramref name="options"/> writes: its figures, summary.json and its saved neurons.</summary>
    private static IEnumerable<string> OutputFiles(RestoreLineOptions options) =>
        [.. Figures.FileNamesFor(options), Summary.FileName, .. options.RunKinds.Select(options.NeuronFileName).OfType<string>()];

    /// <summary>
    /// Every file (name in --out) that some run of the command writes, or that an earlier version wrote
    /// (<see cref="Figures.EarlierFileNames"/>).
    /// </summary>
    private static IEnumerable<string> KnownOutputFiles =>
        [.. Figures.FileNames, .. Figures.EarlierFileNames, Summary.FileName,
            .. Enum.GetValues<RunKind>().Select(RestoreLineOptions.SavedNeuronFileName)];

    private static RestoreLineResult RunWithProgressBar(IAnsiConsole console, RestoreLineOptions options,
        Device device, ILoggerFactory loggerFactory)
    {
        RestoreLineResult? result = null;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var observer = new BarProgress(ctx);
                result = new RestoreLineExperiment(options, device, loggerFactory).Run(observer);
            });
        return result!;
    }

    /// <summary>
    /// The progress bar's stand-in without a terminal: a line as each run starts, so that a log (a CI job's, a file)
    /// reads as a short report and still shows which run a long training is in. The results are the table's; each
    /// step's batch error and each run's result are the experiment's lines at Debug (--verbosity detailed).
    /// </summary>
    private sealed class LogProgress(ILogger logger) : ITrainingObserver
    {
        // The description names the step count already ("long run, 500 steps").
        public void RunStarted(string description, int steps) => logger.LogInformation("Training: {Run}", description);

        public void StepFinished(string description, int step, float handMadeError, float libraryError) { }

        public void RunFinished(RunResult run) { }
    }

    private sealed class BarProgress(ProgressContext context) : ITrainingObserver
    {
        private ProgressTask? _task;

        public void RunStarted(string description, int steps) =>
            _task = context.AddTask(Markup.Escape(description), maxValue: steps);

        public void StepFinished(string description, int step, float handMadeError, float libraryError) =>
            _task?.Value(step);

        public void RunFinished(RunResult run) => _task?.StopTask();
    }
}
