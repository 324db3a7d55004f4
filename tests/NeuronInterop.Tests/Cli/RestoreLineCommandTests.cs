using System.Text.Json;
using NeuronInterop.Cli.RestoreLine;
using NeuronInterop.Reference;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;

namespace NeuronInterop.Tests.Cli;

/// <summary>
/// <c>neuron restore-line</c> end to end with its defaults (the tutorial's runs), once per backend, into a temp folder.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
public sealed class RestoreLineCommandTests
{
    private readonly string _backend;
    private TempFolder? _temp;
    private CliRunner.Result _result = null!;
    private JsonElement _summary;

    private string Folder => _temp!.Path;

    public RestoreLineCommandTests(string backend) => _backend = backend;

    [OneTimeSetUp]
    public void RunCommand()
    {
        TestBackends.Get(_backend);   // ignores (or fails) the CUDA fixture when no GPU is present
        _temp = new TempFolder();
        _result = CliRunner.Run("restore-line", "--device", _backend, "--out", Folder);
        Assert.That(_result.ExitCode, Is.Zero, _result.ToString());
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, Summary.FileName)));
        _summary = document.RootElement.Clone();
    }

    [OneTimeTearDown]
    public void DeleteFolder() => _temp?.Dispose();

    [Test]
    public void SaysWhereTheFiguresAreAndPrintsTheTable()
    {
        Assert.That(_result.Output, Does.Contain(Folder));
        Assert.That(_result.Output, Does.Contain("hand-made").And.Contain("library").And.Contain("no bias"));
        Assert.That(_result.Error, Does.Not.Contain("Exception"));
    }

    [Test]
    public void WritesEveryFigureAsAPngOfTheDocumentedSize()
    {
        var expected = new (string File, int Width, int Height)[]
        {
            (Figures.LinearFunction, Figures.SingleWidth, Figures.SingleHeight),
            (Figures.HandMadeShortRun, Figures.PairWidth, Figures.PairHeight),
            (Figures.HandMadeLongRun, Figures.PairWidth, Figures.PairHeight),
            (Figures.LibraryUntrained, Figures.SingleWidth, Figures.SingleHeight),
            (Figures.BothTrained, Figures.PairWidth, Figures.PairHeight),
            (Figures.NoBias, Figures.PairWidth, Figures.PairHeight),
            (Figures.LearningCurve, Figures.SingleWidth, Figures.SingleHeight),
        };
        var listed = _summary.GetProperty("figures").EnumerateArray().Select(f => f.GetProperty("file").GetString()).ToArray();
        Assert.That(listed, Is.EqualTo(expected.Select(e => e.File).ToArray()), "figures listed in summary.json");

        foreach (var (file, width, height) in expected)
        {
            string path = Path.Combine(Folder, file);
            Assert.That(path, Does.Exist);
            Assert.That(Png.ReadHeader(path), Is.EqualTo((width, height)), file);
            // Lines, text and axes: well above an empty canvas, well below a filled one.
            Assert.That(Png.InkFraction(path), Is.InRange(0.005, 0.5), $"{file}: drawn content");
        }
    }

    /// <summary>
    /// The tutorial numbers its pictures from 3 (Figures 1 and 2 are diagrams): the function is Figure 3, the
    /// hand-made neuron after 200 and 500 steps Figures 4 and 5, the untrained library neuron Figure 6, both
    /// trained Figure 7 and the neuron without bias Figure 8. The learning curve has no figure there.
    /// </summary>
    [Test]
    public void FiguresAreNamedAndNumberedAsInTheTutorial()
    {
        var figures = _summary.GetProperty("figures").EnumerateArray().ToArray();
        Assert.That(figures.Select(f => f.GetProperty("file").GetString()), Is.EqualTo(new[]
        {
            "fig3-linear-function.png", "fig4-hand-made-short-run.png", "fig5-hand-made-long-run.png",
            "fig6-library-untrained.png", "fig7-both-trained.png", "fig8-no-bias.png", "learning-curve.png",
        }));
        var numbers = figures.Select(f => f.GetProperty("tutorialFigure")).ToArray();
        Assert.That(numbers.Take(6).Select(n => n.GetInt32()), Is.EqualTo(new[] { 3, 4, 5, 6, 7, 8 }));
        Assert.That(numbers[6].ValueKind, Is.EqualTo(JsonValueKind.Null), "the learning curve is not in the tutorial");
    }

    [Test]
    public void EachFiguresTitleSaysWhichTutorialFigureItReproduces()
    {
        var titles = _summary.GetProperty("figures").EnumerateArray().Select(f => f.GetProperty("title").GetString()!).ToArray();
        for (int i = 0; i < 6; i++)
            Assert.That(titles[i], Does.StartWith($"Figure {i + 3}: "), titles[i]);
        Assert.That(titles[6], Does.StartWith("Learning curve: ").And.Not.Contain("Figure"));
        Assert.That(titles[0], Is.EqualTo("Figure 3: The linear function f(x) = 2x + 3"));
        Assert.That(titles[6], Is.EqualTo("Learning curve: batch error per step, long run, 500 steps"), "the error it draws");
    }

    [Test]
    public void RecordsTheOptionsAndTheDevice()
    {
        var options = _summary.GetProperty("options");
        Assert.That(options.GetProperty("steps").GetInt32(), Is.EqualTo(500));
        Assert.That(options.GetProperty("shortSteps").GetInt32(), Is.EqualTo(200));
        Assert.That(options.GetProperty("learningRate").GetSingle(), Is.EqualTo(1e-2f));
        Assert.That(options.GetProperty("batchSize").GetInt32(), Is.EqualTo(1));
        Assert.That(options.GetProperty("seed").GetInt32(), Is.EqualTo(1), "the default seed, for runs that repeat");
        Assert.That(options.GetProperty("slope").GetSingle(), Is.EqualTo(2f));
        Assert.That(options.GetProperty("intercept").GetSingle(), Is.EqualTo(3f));
        Assert.That(options.GetProperty("device").GetString(), Is.EqualTo(_backend));
        Assert.That(_summary.GetProperty("device").GetString(), Is.EqualTo(TestBackends.Get(_backend).ToString()));
        var runs = _summary.GetProperty("runs").EnumerateArray().Select(r => (r.GetProperty("name").GetString(), r.GetProperty("steps").GetInt32()));
        Assert.That(runs, Is.EqualTo(new[] { ("short", 200), ("long", 500), ("noBias", 500) }));
    }

    [TestCase("handMade")]
    [TestCase("library")]
    public void LongRunRestoresTheLine(string neuron)
    {
        var result = Run("long").GetProperty(neuron);
        Assert.That(result.GetProperty("w").GetDouble(), Is.EqualTo(2.0).Within(0.05), "w");
        Assert.That(result.GetProperty("b").GetDouble(), Is.EqualTo(3.0).Within(0.05), "b");
    }

    [TestCase("short")]
    [TestCase("long")]
    [TestCase("noBias")]
    public void LibraryNeuronFollowsTheHandMadeOneOnTheSameSamples(string run)
    {
        // Same samples, same float32 arithmetic; a CUDA backend may round differently (fused multiply-add).
        var handMade = Run(run).GetProperty("handMade");
        var library = Run(run).GetProperty("library");
        foreach (string name in new[] { "w", "b" })
            Assert.That(library.GetProperty(name).GetDouble(), Is.EqualTo(handMade.GetProperty(name).GetDouble()).Within(1e-3), name);
    }

    /// <summary>
    /// Without bias the least-squares slope on points symmetric around 0 is exactly 2 (Σx·3 = 0), so SGD
    /// hovers around w = 2. Its spread: with u = w − 2 one step is u ← u(1 − η x²) + 3η x, whose
    /// stationary variance is 9η E[x²] / (2E[x²] − η E[x⁴]) = 0.27 / 5.838 ≈ 0.046 for η = 0.01 and x
    /// uniform on [−3, 3] (E[x²] = 3, E[x⁴] = 16.2): a standard deviation of 0.215. The start (u = −1)
    /// has decayed by (1 − 0.06)^500 ≈ 1e-13 after 500 steps, so |w − 2| ≤ 0.65 (3 sigma).
    /// The predictions w·x miss the line by the intercept: the error over all points is
    /// Σ(3 + (2 − w)x)² / 2N, at least 3²/2 = 4.5.
    /// </summary>
    [TestCase("handMade")]
    [TestCase("library")]
    public void NoBiasRunEndsParallelToTheLineAndOffsetFromIt(string neuron)
    {
        var result = Run("noBias").GetProperty(neuron);
        double w = result.GetProperty("w").GetDouble();
        Assert.That(w, Is.EqualTo(2.0).Within(0.65), "w");
        Assert.That(result.GetProperty("b").GetDouble(), Is.Zero, "b");

        float[] x = TutorialData.Linspace(-3f, 3f, 1000);
        double expectedError = x.Sum(v => Math.Pow(3.0 + (2.0 - w) * v, 2)) / (2.0 * x.Length);
        double finalError = result.GetProperty("finalError").GetDouble();
        Assert.That(finalError, Is.EqualTo(expectedError).Within(1e-4).Percent, "error of w·x against 2x + 3");
        Assert.That(finalError, Is.GreaterThan(4.5 * (1 - 1e-4)), "offset by the intercept");
    }

    private JsonElement Run(string name) =>
        _summary.GetProperty("runs").EnumerateArray().Single(r => r.GetProperty("name").GetString() == name);
}
