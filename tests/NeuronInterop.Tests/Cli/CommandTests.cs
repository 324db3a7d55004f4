using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NeuronInterop.Benchmarks;
using NeuronInterop.Cli;
using NeuronInterop.Cli.Bench;
using NeuronInterop.Cli.Infrastructure;
using NeuronInterop.Cli.RestoreLine;
using NeuronInterop.Modules;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;
using SkiaSharp;

namespace NeuronInterop.Tests.Cli;

/// <summary><c>neuron info</c>, <c>--help</c>, <c>--no-bias</c>, <c>--verbosity</c> and <c>neuron bench</c>.</summary>
public sealed class CommandTests
{
    [Test]
    public void InfoPrintsTheNativeLibraryAndTheBackendAutoPicks()
    {
        var result = CliRunner.Run("info");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain(Device.NativeLibraryPath));
        Assert.That(result.Output, Does.Contain(Device.NativeVersion.ToString()));
        Assert.That(result.Output.Split('\n')[0], Is.EqualTo($"neuron {Device.NativeVersion}"), "the tool has its library's version");
        Assert.That(result.Output, Does.Contain($"CUDA devices:      {Device.CudaDeviceCount}"));
        Assert.That(result.Output, Does.Match(@"Host kernels: +(avx512|avx2|baseline), \d+ threads?"));
        string expected = Device.CudaDeviceCount > 0 ? "cuda:0" : "host";
        Assert.That(result.Output, Does.Match($"auto picks: +{expected} "));
        Assert.That(result.Output, Does.Contain($"Default device:    {Device.Default} "));
        if (Device.IsCudaCompiled && Device.CudaDeviceCount == 0)
            Assert.That(result.Output, Does.Contain("none usable:     nrn_context_create: CUDA device 0 does not exist"),
                "with CUDA compiled in and no device, the native library's reason");
        else
            Assert.That(result.Output, Does.Not.Contain("none usable"));
    }

    [Test]
    public void InfoSaysWhyNeuronBackendGivesNoDefaultDevice()
    {
        using var variable = new EnvironmentVariable(Device.BackendVariable, "gpu");
        var result = CliRunner.Run("info");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("NEURON_BACKEND:    gpu"));
        Assert.That(result.Output, Does.Contain("Default device:    none: The environment variable NEURON_BACKEND='gpu'"));
    }

    [Test]
    public void HelpDescribesEveryOptionAndTheFigureSizes()
    {
        var result = CliRunner.Run("restore-line", "--help");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        foreach (string option in new[] { "--steps", "--lr", "--batch-size", "--seed", "--device", "--out", "--no-bias", "--save", "--slope", "--intercept", "--verbosity" })
            Assert.That(result.Output, Does.Contain(option));
        Assert.That(result.Output, Does.Contain($"{Figures.SingleWidth}x{Figures.SingleHeight}"));
        Assert.That(result.Output, Does.Contain("the tutorial's Figures 3 to 8"), "the figures' numbers");
    }

    [Test]
    public void NoBiasRunsOnlyTheNoBiasExperiment()
    {
        using var temp = new TempFolder();
        string folder = temp.Path;
        var result = CliRunner.Run("restore-line", "--no-bias", "--steps", "50", "--seed", "7", "--device", "host",
            "--slope", "-1.5", "--intercept", "0.5", "--out", folder, "--verbosity", "quiet");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Error, Is.Empty, "quiet logs nothing");
        Assert.That(Directory.GetFiles(folder, "*.png").Select(Path.GetFileName).Order(),
            Is.EqualTo(new[] { Figures.LinearFunction, Figures.NoBias, Figures.LearningCurve }.Order()));

        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, Summary.FileName)));
        var runs = summary.RootElement.GetProperty("runs").EnumerateArray().ToArray();
        Assert.That(runs, Has.Length.EqualTo(1));
        Assert.That(runs[0].GetProperty("name").GetString(), Is.EqualTo("noBias"));
        Assert.That(runs[0].GetProperty("steps").GetInt32(), Is.EqualTo(50));
        Assert.That(summary.RootElement.GetProperty("options").GetProperty("slope").GetSingle(), Is.EqualTo(-1.5f));
    }

    [TestCase("2", "3", "f(x) = 2x + 3")]
    [TestCase("-2", "-3", "f(x) = -2x - 3")]
    [TestCase("-1.5", "0.25", "f(x) = -1.5x + 0.25")]
    [TestCase("0.5", "-0", "f(x) = 0.5x + 0")]
    [TestCase("0.00001", "-0.00002", "f(x) = 1E-05·x - 2E-05")]
    [TestCase("1e17", "-1e17", "f(x) = 1E+17·x - 1E+17")]
    public void TheLineIsWrittenAlikeInTheTableTheLogAndTheFigures(string slope, string intercept, string line)
    {
        using var temp = new TempFolder();
        var result = CliRunner.Run("restore-line", "--no-bias", "--steps", "5", "--device", "host",
            "--slope", slope, "--intercept", intercept, "--out", temp.Path);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain($"Restoring {line}: learnt w and b"), "the table's title");
        Assert.That(result.Error, Does.Contain($"Restoring {line} from 1000 points"), "the log line");
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(temp.Path, Summary.FileName)));
        var titles = summary.RootElement.GetProperty("figures").EnumerateArray().Select(f => f.GetProperty("title").GetString());
        Assert.That(titles, Has.Some.EqualTo($"Figure 3: The linear function {line}"), "the figures' titles");
        Assert.That(result.Output.Replace(temp.Path, "the folder"), Does.Not.Match(@"\d{12}"), "no number of a dozen digits");
    }

    /// <summary>
    /// Standard output that cannot be written (a full disk behind a redirection) loses the table, not the run: the
    /// figures and summary.json are written all the same, and the error says where the results went.
    /// </summary>
    [Test]
    public void AStandardOutputThatCannotBeWrittenLeavesTheFilesAndSaysSo()
    {
        using var temp = new TempFolder();
        using var error = new StringWriter();
        int exitCode = NeuronInterop.Cli.Program.Run(
            ["restore-line", "--no-bias", "--steps", "5", "--device", "host", "--out", temp.Path], new FullWriter(), error);
        Assert.That(exitCode, Is.EqualTo(1));
        string[] lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[^1], Is.EqualTo(
            $"neuron: error: cannot write to standard output (No space left on device): the figures and {Summary.FileName} " +
            $"in {temp.Path} hold this run's results."));
        Assert.That(File.Exists(Path.Combine(temp.Path, Summary.FileName)));
        Assert.That(File.Exists(Path.Combine(temp.Path, Figures.NoBias)));
    }

    /// <summary>A writer whose every write fails as one to a full disk does.</summary>
    private sealed class FullWriter : StringWriter
    {
        public override void Write(char value) => throw new IOException("No space left on device");

        public override void Write(string? value) => throw new IOException("No space left on device");

        public override void Write(char[] buffer, int index, int count) => throw new IOException("No space left on device");

        public override void WriteLine(string? value) => throw new IOException("No space left on device");
    }

    /// <summary>The run without bias alone records that run and no short one, in its runs and its options.</summary>
    [Test]
    public void TheRunWithoutBiasAloneRecordsNoShortRun()
    {
        using var temp = new TempFolder();
        var result = CliRunner.Run("restore-line", "--no-bias", "--steps", "5", "--device", "host", "--out", temp.Path);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(temp.Path, Summary.FileName)));
        var options = summary.RootElement.GetProperty("options");
        Assert.That(options.GetProperty("noBiasOnly").GetBoolean(), Is.True);
        Assert.That(options.GetProperty("shortSteps").ValueKind, Is.EqualTo(JsonValueKind.Null), "no short run");
        Assert.That(summary.RootElement.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("name").GetString()),
            Is.EqualTo(new[] { "noBias" }));
    }

    /// <summary>
    /// A title of a long line on a long device name would run off the figure at the tutorial's sizes: it is drawn
    /// smaller, whole. The title is the only dark ink above the plots (the top 30 rows of a single plot, the 40 of a
    /// side-by-side one's band).
    /// </summary>
    [Test]
    public void EachTitleFitsInsideItsFigure()
    {
        using var temp = new TempFolder();
        var result = CliRunner.Run("restore-line", "--steps", "5", "--device", "host", "--slope", "-0.0000123456",
            "--intercept", "-0.0000123456", "--out", temp.Path, "--verbosity", "quiet");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(temp.Path, Summary.FileName)));
        Assert.That(summary.RootElement.GetProperty("figures").GetArrayLength(), Is.EqualTo(7), "every figure looked at");
        foreach (var figure in summary.RootElement.GetProperty("figures").EnumerateArray())
        {
            string file = figure.GetProperty("file").GetString()!;
            int width = figure.GetProperty("width").GetInt32();
            int titleRows = width == Figures.PairWidth ? 40 : 30;
            var columns = Png.DarkColumns(Path.Combine(temp.Path, file), 0, titleRows);
            Assert.That(columns, Is.Not.Null, $"{file}: a title");
            Assert.That(columns!.Value.First, Is.GreaterThanOrEqualTo(8), $"{file}: the title's left end, '{figure.GetProperty("title")}'");
            Assert.That(columns.Value.Last, Is.LessThan(width - 8), $"{file}: the title's right end, '{figure.GetProperty("title")}'");
        }
    }

    /// <summary>
    /// A machine without fonts (a container, a GPU server) drew the figures without a word on them. Every text is
    /// drawn in the font the tool carries, whatever fonts the machine has: ScottPlot resolves it to the carried files
    /// before the system's, and it has a glyph for every character of every title.
    /// </summary>
    [Test]
    public void FiguresAreDrawnInTheCarriedFont()
    {
        using var temp = new TempFolder();
        var result = CliRunner.Run("restore-line", "--steps", "5", "--device", "host", "--out", temp.Path, "--verbosity", "quiet");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());

        Assert.That(ScottPlot.Fonts.Default, Is.EqualTo(FigureFonts.Family));
        using var carriedRegular = FigureFonts.CreateTypeface(bold: false);
        using var carriedBold = FigureFonts.CreateTypeface(bold: true);
        foreach (var (carried, bold) in new[] { (carriedRegular, false), (carriedBold, true) })
        {
            var resolver = ScottPlot.Fonts.FontResolvers[0];
            using var resolved = resolver.CreateTypeface(FigureFonts.Family, bold, italic: false);
            Assert.That(resolved, Is.Not.Null, $"bold {bold}: resolved before the system's fonts");
            Assert.That((resolved!.FamilyName, resolved.FontStyle.Weight, resolved.GlyphCount),
                Is.EqualTo((carried.FamilyName, carried.FontStyle.Weight, carried.GlyphCount)), $"bold {bold}");
        }
        Assert.That(carriedBold.FontStyle.Weight, Is.EqualTo((int)SKFontStyleWeight.Bold));

        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(temp.Path, Summary.FileName)));
        Assert.That(summary.RootElement.GetProperty("figures").GetArrayLength(), Is.EqualTo(7), "every figure looked at");
        foreach (var figure in summary.RootElement.GetProperty("figures").EnumerateArray())
        {
            string title = figure.GetProperty("title").GetString()!;
            Assert.That(carriedBold.GetGlyphs(title), Has.None.EqualTo((ushort)0), $"a glyph for each character of '{title}'");
        }
    }

    [TestCase(2f, "2")]
    [TestCase(3f, "3")]
    [TestCase(2.0021f, "2.0021")]
    [TestCase(-2.99987f, "-2.9999")]
    [TestCase(123456.79f, "123456.8")]
    [TestCase(0.001f, "0.001")]
    [TestCase(0.00001f, "1E-05")]
    [TestCase(-0.0000123456f, "-1.235E-05")]
    [TestCase(1e30f, "1E+30")]
    [TestCase(1e6f, "1E+06")]
    [TestCase(0f, "0")]
    [TestCase(-0f, "0")]
    [TestCase(float.NaN, "NaN")]
    [TestCase(float.PositiveInfinity, "Infinity")]
    [TestCase(float.NegativeInfinity, "-Infinity")]
    [SetCulture("de-DE")]
    public void NumbersAreWrittenInOneFormatWhateverTheLocale(float value, string expected) =>
        Assert.That(NumberText.Format(value), Is.EqualTo(expected));

    [Test]
    [SetCulture("de-DE")]
    public void FiguresAreTheSameWhateverTheLocale()
    {
        using var german = new TempFolder();
        using var invariant = new TempFolder();
        string[] args = ["restore-line", "--no-bias", "--steps", "5", "--device", "host", "--slope", "2.5", "--verbosity", "quiet"];
        var result = CliRunner.Run([.. args, "--out", german.Path]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        result = CliRunner.Run([.. args, "--out", invariant.Path]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());

        // Decimal ticks on the x axis (-2.5 ... 2.5) and w in the labels: "," under de-DE.
        foreach (string figure in new[] { Figures.LinearFunction, Figures.NoBias, Figures.LearningCurve })
        {
            using var expected = SKBitmap.Decode(Path.Combine(invariant.Path, figure));
            using var actual = SKBitmap.Decode(Path.Combine(german.Path, figure));
            Assert.That(actual.Bytes.SequenceEqual(expected.Bytes), Is.True, $"{figure} differs from the invariant culture's");
        }
    }

    [Test]
    [SetCulture("de-DE")]
    public void FigureLabelsDoNotFollowTheLocale()
    {
        Assert.That(Figures.Parameters(2.5f, -0.125f, useBias: true), Is.EqualTo("w = 2.5, b = -0.125"));
        Assert.That(Figures.Parameters(2.5f, 0f, useBias: false), Is.EqualTo("w = 2.5 (no bias)"));
        Assert.That(Figures.Parameters(RestoreLineOptions.InitialWeight, RestoreLineOptions.InitialBias, useBias: true),
            Is.EqualTo("w = 1, b = 0"), "the neurons' start");
    }

    [Test]
    public void ShortRunIsCutToTheStepsWhenThoseAreFewer()
    {
        using var temp = new TempFolder();
        string folder = temp.Path;
        var result = CliRunner.Run("restore-line", "--steps", "30", "--batch-size", "8", "--device", "host", "--out", folder);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, Summary.FileName)));
        var steps = summary.RootElement.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("steps").GetInt32());
        Assert.That(steps, Is.EqualTo(new[] { 30, 30, 30 }));
        Assert.That(result.Error, Does.Contain("Training: long run, 30 steps"), "a log line per run when not on a terminal");
        Assert.That(Directory.GetFiles(folder, "*.hdf"), Is.Empty, "neurons are saved only with --save");
        Assert.That(summary.RootElement.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("libraryFile").ValueKind),
            Is.All.EqualTo(JsonValueKind.Null));
        // Batches of 8: the hand-made neuron averages its 8 per-sample gradients and errors, as the library's MSE does.
        foreach (var run in summary.RootElement.GetProperty("runs").EnumerateArray())
        {
            foreach (string name in new[] { "w", "b" })
                Assert.That(run.GetProperty("library").GetProperty(name).GetDouble(),
                    Is.EqualTo(run.GetProperty("handMade").GetProperty(name).GetDouble()).Within(1e-3),
                    $"{run.GetProperty("name").GetString()}: {name}");
            Assert.That(run.GetProperty("library").GetProperty("lastStepError").GetDouble(),
                Is.EqualTo(run.GetProperty("handMade").GetProperty("lastStepError").GetDouble()).Within(1e-3).Percent,
                $"{run.GetProperty("name").GetString()}: the last batch's error");
        }
    }

    /// <summary>
    /// A step's line gives the error on that step's samples, as the tutorial prints it ("Neuron error", "PL module
    /// error") at each step; a learner must not take it for the table's error over all points.
    /// </summary>
    [TestCase("1", "1 sample")]
    [TestCase("8", "8 samples")]
    public void StepLinesCallTheirErrorTheBatchErrorAsTheTutorialPrintsIt(string batchSize, string samples)
    {
        using var temp = new TempFolder();
        var result = CliRunner.Run("restore-line", "--no-bias", "--steps", "30", "--batch-size", batchSize, "--device", "host",
            "--out", temp.Path, "--verbosity", "detailed");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var steps = result.ErrorLines.Where(l => l.Contains(": step ")).ToArray();
        Assert.That(steps, Has.Length.EqualTo(30), "every step at detailed");
        Assert.That(steps, Has.All.Match(
            $@"no bias, 30 steps: step \d+/30, batch error on this step's {samples}: neuron error \S+, library module error \S+$"));
    }

    [Test]
    public void EachRunsResultLineAndTheTableSayTheirErrorIsOverAllPoints()
    {
        using var temp = new TempFolder();
        var result = CliRunner.Run("restore-line", "--steps", "30", "--device", "host", "--out", temp.Path, "--verbosity", "detailed");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Error, Does.Match(@"long run, 30 steps: error over all 1000 points after training: " +
            @"hand-made neuron \S+ \(w = \S+, b = \S+\), library neuron \S+ \(w = \S+, b = \S+\)"));
        Assert.That(result.Error, Does.Match(@"no bias, 30 steps: error over all 1000 points after training: " +
            @"hand-made neuron \S+ \(w = \S+, no bias\), library neuron \S+ \(w = \S+, no bias\)"));
        Assert.That(result.Output, Does.Contain("Error, all 1000 points"), "the table's column");
        Assert.That(result.Output, Does.Contain("(--verbosity detailed logs each step's error on its batch.)"), "the table's caption tells the two apart");
    }

    /// <summary>
    /// Without a terminal (a CI log, output sent to a file) there is no progress bar, and the log reads as a short
    /// report: which backend ran, the line restored and a line as each run starts. The results are the table's.
    /// </summary>
    [Test]
    public void WithoutATerminalTheLogIsAShortReport()
    {
        using var temp = new TempFolder();
        var result = CliRunner.Run("restore-line", "--steps", "30", "--save", "--device", "host", "--out", temp.Path);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.ErrorLines, Is.EqualTo(new[]
        {
            "info: neuron.restore-line[0] Using the host backend.",
            "info: neuron.restore-line[0] Restoring f(x) = 2x + 3 from 1000 points on [-3, 3] with the library neuron on host",
            "info: neuron.restore-line[0] Training: short run, 30 steps",
            "info: neuron.restore-line[0] Training: long run, 30 steps",
            "info: neuron.restore-line[0] Training: no bias, 30 steps",
        }));
    }

    [Test]
    public void VerbosityDetailedBringsBackEveryStepEachRunsResultAndEachSavedNeuron()
    {
        using var temp = new TempFolder();
        var result = CliRunner.Run("restore-line", "--steps", "30", "--save", "--device", "host", "--out", temp.Path,
            "--verbosity", "detailed");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        foreach (string run in new[] { "short run, 30 steps", "long run, 30 steps", "no bias, 30 steps" })
        {
            Assert.That(result.ErrorLines.Count(l => l.Contains($"] {run}: step ")), Is.EqualTo(30), $"{run}: every step");
            Assert.That(result.Error, Does.Contain($"] {run}: error over all 1000 points after training: "), $"{run}: its result");
            Assert.That(result.Error, Does.Contain($"] {run}: library neuron saved as "), $"{run}: its file");
        }
    }

    [Test]
    public void OneStepIsOneStep()
    {
        using var temp = new TempFolder();
        var result = CliRunner.Run("restore-line", "--steps", "1", "--device", "host", "--out", temp.Path);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("short run, 1 step ").And.Contain("no bias, 1 step "), "the table");
        Assert.That(result.Error, Does.Contain("Training: long run, 1 step"), "the log");
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(temp.Path, Summary.FileName)));
        var titles = summary.RootElement.GetProperty("figures").EnumerateArray().Select(f => f.GetProperty("title").GetString());
        Assert.That(titles, Has.Some.EqualTo("Figure 4: Hand-made neuron before and after training (1 step)"), "the figures' titles");
        Assert.That(string.Join("\n", [result.Output, result.Error, .. titles]), Does.Not.Match(@"\b1 steps"));
    }

    [Test]
    public void SaveWritesEachRunsLibraryNeuronForModuleLoad()
    {
        using var temp = new TempFolder();
        string folder = temp.Path;
        var result = CliRunner.Run("restore-line", "--steps", "30", "--save", "--device", "host", "--out", folder);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("Library neurons saved (3)"));

        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, Summary.FileName)));
        Assert.That(summary.RootElement.GetProperty("options").GetProperty("save").GetBoolean(), Is.True);
        var runs = summary.RootElement.GetProperty("runs").EnumerateArray().ToArray();
        Assert.That(runs.Select(r => r.GetProperty("libraryFile").GetString()),
            Is.EqualTo(new[] { "neuron-short-run.hdf", "neuron-long-run.hdf", "neuron-no-bias.hdf" }));
        foreach (var run in runs)
        {
            string file = run.GetProperty("libraryFile").GetString()!;
            Assert.That(result.Output, Does.Contain(file));
            bool useBias = run.GetProperty("useBias").GetBoolean();
            using var loaded = new Linear(1, 1, useBias, InitScheme.None, device: Device.Host, name: RestoreLineOptions.NeuronName);
            loaded.Load(Path.Combine(folder, file));
            var library = run.GetProperty("library");
            Assert.That(loaded.W.ToArray()[0], Is.EqualTo(library.GetProperty("w").GetSingle()), $"{file}: w");
            Assert.That(loaded.B?.ToArray()[0] ?? 0f, Is.EqualTo(library.GetProperty("b").GetSingle()), $"{file}: b");
        }

        using var withBias = new Linear(1, 1, useBias: true, device: Device.Host, name: RestoreLineOptions.NeuronName);
        var e = Assert.Throws<InvalidDataException>(() => withBias.Load(Path.Combine(folder, "neuron-no-bias.hdf")));
        Assert.That(e!.Message, Does.Contain("neuron.b"), "the no-bias neuron's file holds no bias");
    }

    [Test]
    public void ARunRemovesOnlyTheFilesOfAnEarlierRunThatItDoesNotWrite()
    {
        using var temp = new TempFolder();
        string folder = temp.Path;
        var full = CliRunner.Run("restore-line", "--steps", "5", "--save", "--device", "host", "--out", folder, "--verbosity", "quiet");
        Assert.That(full.ExitCode, Is.Zero, full.ToString());
        Assert.That(full.Output, Does.Not.Contain("Removed"), "an empty folder");
        // Not the tool's files, or not files: left alone.
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "");
        File.WriteAllText(Path.Combine(folder, Figures.HandMadeShortRun + ".old"), "");
        File.Delete(Path.Combine(folder, Figures.HandMadeShortRun));
        Directory.CreateDirectory(Path.Combine(folder, Figures.HandMadeShortRun));

        var noBias = CliRunner.Run("restore-line", "--no-bias", "--steps", "5", "--device", "host", "--out", folder, "--verbosity", "quiet");
        Assert.That(noBias.ExitCode, Is.Zero, noBias.ToString());
        Assert.That(noBias.Output, Does.Contain("Removed 6 files of an earlier run: " +
            $"{Figures.HandMadeLongRun}, {Figures.LibraryUntrained}, {Figures.BothTrained}, " +
            "neuron-short-run.hdf, neuron-long-run.hdf, neuron-no-bias.hdf"));
        Assert.That(Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).Order(), Is.EqualTo(new[]
        {
            Figures.LinearFunction, Figures.HandMadeShortRun, Figures.HandMadeShortRun + ".old", Figures.NoBias,
            Figures.LearningCurve, "notes.txt", Summary.FileName,
        }.Order()));

        var saved = CliRunner.Run("restore-line", "--no-bias", "--steps", "5", "--save", "--device", "host", "--out", folder);
        Assert.That(saved.Output, Does.Not.Contain("Removed"), "nothing left of the earlier run");
        var again = CliRunner.Run("restore-line", "--no-bias", "--steps", "5", "--device", "host", "--out", folder);
        Assert.That(again.Output, Does.Contain("Removed 1 file of an earlier run: neuron-no-bias.hdf"));
    }

    /// <summary>
    /// Before the figures took the tutorial's numbers they were fig1 ... fig7; left in a folder from then, fig3, fig4 and
    /// fig5 would each name two pictures, and fig7 the wrong one.
    /// </summary>
    [Test]
    public void ARunRemovesTheFiguresThatEarlierVersionsNumberedOtherwise()
    {
        using var temp = new TempFolder();
        string folder = temp.Path;
        string[] earlier =
        [
            "fig1-linear-function.png", "fig2-hand-made-short-run.png", "fig3-hand-made-long-run.png",
            "fig4-library-untrained.png", "fig5-both-trained.png", "fig6-no-bias.png", "fig7-learning-curve.png",
        ];
        foreach (string name in earlier)
            File.WriteAllText(Path.Combine(folder, name), "an earlier version's");

        var result = CliRunner.Run("restore-line", "--steps", "5", "--device", "host", "--out", folder, "--verbosity", "quiet");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain($"Removed 7 files of an earlier run: {string.Join(", ", earlier)}"));
        foreach (string name in earlier)
            Assert.That(Path.Combine(folder, name), Does.Not.Exist);
        Assert.That(Directory.GetFiles(folder, "*.png"), Has.Length.EqualTo(7), "this run's figures");
    }

    [Test]
    public void EachIntegerOptionTakesTheEndsOfItsRange()
    {
        using var temp = new TempFolder();
        foreach (var (steps, batchSize, seed) in new[] { ("1", "1", "0"), ("1", "1000", "2147483647") })
        {
            var result = CliRunner.Run("restore-line", "--no-bias", "--steps", steps, "--batch-size", batchSize, "--seed", seed,
                "--device", "host", "--out", temp.Path, "--verbosity", "quiet");
            Assert.That(result.ExitCode, Is.Zero, $"--batch-size {batchSize} --seed {seed}: {result}");
        }
    }

    [Test]
    public void SaysWhenALearningRateMakesTrainingDiverge()
    {
        using var temp = new TempFolder();
        string folder = temp.Path;
        var calm = CliRunner.Run("restore-line", "--steps", "30", "--device", "host", "--out", folder);
        Assert.That(calm.ExitCode, Is.Zero, calm.ToString());
        Assert.That(calm.Error, Does.Not.Contain("diverged"), "the tutorial's learning rate converges");

        // Without bias, w = 1 already fits y = x + 3 best: each sample moves it a little, and the error ends a little
        // above where it started. That is not divergence.
        var atItsBest = CliRunner.Run("restore-line", "--no-bias", "--slope", "1", "--device", "host", "--out", folder);
        Assert.That(atItsBest.ExitCode, Is.Zero, atItsBest.ToString());
        Assert.That(atItsBest.Error, Does.Not.Contain("diverged"), "a neuron that starts at its best");

        var result = CliRunner.Run("restore-line", "--steps", "30", "--lr", "5", "--device", "host", "--out", folder);
        Assert.That(result.ExitCode, Is.Zero, "a diverging run is a result, not a failure: " + result);
        Assert.That(result.Error, Does.Contain("the hand-made neuron diverged").And.Contain("the library neuron diverged"));
        Assert.That(result.Error, Does.Contain("diverged: its error over all 1000 points went from"), "which error grew");
        Assert.That(result.Error, Does.Contain("try a smaller --lr"));
    }

    [Test]
    public void ADivergedRunsLearningCurveShowsItsFiniteStepsAndWhereTheyEnd()
    {
        var options = new RestoreLineOptions { Steps = 30, LearningRate = 5f, DeviceName = "host" };
        var run = new RestoreLineExperiment(options, Device.Host, NullLoggerFactory.Instance)
            .TrainBoth(RunKind.Long, options.Steps, useBias: true, new NullObserver());
        int notFinite = 1 + Math.Min(Array.FindIndex(run.HandMade.StepErrors, e => !float.IsFinite(e)),
            Array.FindIndex(run.Library.StepErrors, e => !float.IsFinite(e)));
        Assert.That(notFinite, Is.InRange(2, options.Steps), "the run overflows after some finite steps");

        using var temp = new TempFolder();
        var result = CliRunner.Run("restore-line", "--steps", "30", "--lr", "5", "--device", "host", "--out", temp.Path);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(temp.Path, Summary.FileName)));
        string? title = summary.RootElement.GetProperty("figures").EnumerateArray()
            .Single(f => f.GetProperty("file").GetString() == Figures.LearningCurve).GetProperty("title").GetString();
        Assert.That(title, Is.EqualTo($"Learning curve: long run, 30 steps, batch error not finite from step {notFinite}"));
        // The legend's sample of the hand-made neuron's orange line is about 40 pixels; its curve, some 800.
        int orange = Png.CountColor(Path.Combine(temp.Path, Figures.LearningCurve), new SKColor(255, 165, 0));
        Assert.That(orange, Is.GreaterThan(300), "the finite steps are drawn");
    }

    [TestCase("quiet", LogLevel.Error)]
    [TestCase("q", LogLevel.Error)]
    [TestCase("minimal", LogLevel.Warning)]
    [TestCase("normal", LogLevel.Information)]
    [TestCase("detailed", LogLevel.Debug)]
    [TestCase("diag", LogLevel.Trace)]
    [TestCase("Warning", LogLevel.Warning)]
    [TestCase("trace", LogLevel.Trace)]
    [TestCase("None", LogLevel.None)]
    public void VerbosityAcceptsDotnetNamesAndLogLevels(string text, LogLevel expected)
    {
        Assert.That(Verbosity.TryParse(text, out var level), Is.True);
        Assert.That(level, Is.EqualTo(expected));
    }

    [TestCase("")]
    [TestCase("loud")]
    [TestCase("3")]
    [TestCase("Debug,Information")]
    [TestCase("Trace, Debug")]
    public void VerbosityRejectsOtherText(string text) => Assert.That(Verbosity.TryParse(text, out _), Is.False);

    [Test]
    public void BenchExitsWithCheckFailedWhenAResultFailedOrCouldNotBeMeasured()
    {
        static BenchmarkResult Result(bool? passed, string? error = null) => new()
        {
            CaseId = "tutorial", Variant = "trainer", Error = error,
            Check = passed is null ? null : new CorrectnessResult { CheckedColumns = 1, Tolerance = 1e-6, Passed = passed.Value },
        };
        static int ExitCode(params BenchmarkResult[] results) => BenchCommand.ExitCodeFor(new BenchmarkReport { Results = results });

        Assert.Multiple(() =>
        {
            Assert.That(ExitCode(Result(true), Result(true)), Is.EqualTo(CliApplication.ExitOk), "every result checked");
            Assert.That(ExitCode(Result(true), Result(null)), Is.EqualTo(BenchCommand.ExitCheckFailed), "a result without a check");
            Assert.That(ExitCode(Result(true), Result(false)), Is.EqualTo(BenchCommand.ExitCheckFailed), "a failed check");
            Assert.That(ExitCode(Result(true), Result(null, "out of memory")), Is.EqualTo(BenchCommand.ExitCheckFailed),
                "a result that could not be measured");
        });
    }

    [Test]
    public void BenchCaseListsMayHaveSpacesAfterTheCommas()
    {
        var result = CliRunner.Run("bench", "--quick", "--device", "host", "--repeats", "1", "--case", "tutorial, tutorial");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
    }

    [Test]
    public void BenchRunsTheQuickTutorialCaseAndWritesJson()
    {
        using var temp = new TempFolder();
        string folder = temp.Path;
        string json = Path.Combine(folder, "bench.json");
        var result = CliRunner.Run("bench", "--quick", "--device", "host", "--case", "tutorial", "--json", json);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("tutorial"));
        Assert.That(json, Does.Exist);
    }

    /// <summary>
    /// A file that exists is written in place, so the folder it is in need not take new files: as /dev/null,
    /// /dev/stdout or a shell's <c>&gt;(command)</c> (/dev/fd/63) are for a user who is not root. An immutable folder
    /// stands in for such a folder here, as it takes no new files even from root.
    /// </summary>
    [Test]
    public void BenchWritesAnExistingJsonFileInAFolderThatTakesNoNewFiles()
    {
        using var temp = new TempFolder();
        string json = Path.Combine(temp.Path, "bench.json");
        File.WriteAllText(json, "an earlier report");
        if (!FileFlags.SetImmutable(temp.Path, true))
            Assert.Ignore("chattr +i does not work here (it needs root and a file system that keeps the flag)");
        try
        {
            var result = CliRunner.Run("bench", "--quick", "--repeats", "1", "--device", "host", "--case", "tutorial", "--json", json);
            Assert.That(result.ExitCode, Is.Zero, result.ToString());
            Assert.That(BenchmarkReport.FromJson(File.ReadAllText(json)).Results.Select(r => r.CaseId), Does.Contain("tutorial"));
        }
        finally
        {
            FileFlags.SetImmutable(temp.Path, false);
        }
    }

    /// <summary>
    /// A named pipe takes the report when it is written, as a shell's redirection would: the command does not wait for
    /// a reader before it measures, nor end the reader's input early by opening and closing the pipe to check it.
    /// </summary>
    [Test]
    [Platform("Linux")]
    public void BenchWritesItsJsonIntoANamedPipe()
    {
        using var temp = new TempFolder();
        string pipe = Path.Combine(temp.Path, "bench.json");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [pipe]))
            mkfifo.WaitForExit();
        Task<string> reader = Task.Run(() => File.ReadAllText(pipe));
        Task<CliRunner.Result> run = Task.Run(() =>
            CliRunner.Run("bench", "--quick", "--repeats", "1", "--device", "host", "--case", "tutorial", "--json", pipe));
        bool finished = run.Wait(TimeSpan.FromMinutes(2));
        if (!finished)
        {
            File.ReadAllText(pipe);  // a reader for the write the command waits on, so that it ends
            run.Wait();
        }
        Assert.That(finished, Is.True, "the command ended without another reader");
        Assert.That(run.Result.ExitCode, Is.Zero, run.Result.ToString());
        Assert.That(reader.Wait(TimeSpan.FromMinutes(1)), Is.True, "the reader got to the end of its input");
        Assert.That(BenchmarkReport.FromJson(reader.Result).Results.Select(r => r.CaseId), Does.Contain("tutorial"));
    }

    /// <summary>
    /// The no-bias SGD hovers around the least-squares slope 2 with a standard deviation of about 0.215
    /// (see <see cref="RestoreLineCommandTests"/>). Over 8 seeds the mean has a standard deviation of
    /// 0.076, so |mean − 2| ≤ 0.25 (3.3 sigma): the slope is unbiased, only the intercept is missing.
    /// </summary>
    [Test]
    public void NoBiasSlopeAveragesToTheTrueSlopeOverSeeds()
    {
        var slopes = new List<float>();
        for (int seed = 1; seed <= 8; seed++)
        {
            var options = new RestoreLineOptions { Seed = seed, NoBiasOnly = true, DeviceName = "host" };
            var experiment = new RestoreLineExperiment(options, Device.Host, NullLoggerFactory.Instance);
            var run = experiment.TrainBoth(RunKind.NoBias, options.Steps, useBias: false, new NullObserver());
            slopes.Add(run.HandMade.W);
            Assert.That(run.Library.W, Is.EqualTo(run.HandMade.W).Within(1e-3), $"seed {seed}");
        }
        Assert.That(slopes.Average(), Is.EqualTo(2.0).Within(0.25), string.Join(", ", slopes));
        Assert.That(slopes.Distinct().Count(), Is.EqualTo(slopes.Count), "each seed draws other samples");
    }

    private sealed class NullObserver : ITrainingObserver
    {
        public void RunStarted(string description, int steps) { }
        public void StepFinished(string description, int step, float handMadeError, float libraryError) { }
        public void RunFinished(RunResult run) { }
    }
}
