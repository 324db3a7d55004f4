using NeuronInterop.Cost;
using NeuronInterop.Handlers;
using NeuronInterop.Modules;
using NeuronInterop.Optimizers;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;

namespace NeuronInterop.Tests.Model;

/// <summary>The usage example of the README and of the package's readme, compiled and run.</summary>
[TestFixture]
public sealed class ReadmeExampleTests
{
    [Test]
    public void ReadmeExampleLearnsTheLine()
    {
        // --- README example begins ---
        // Learn y = 2x + 3 from 1000 points on [-3, 3].
        var data = new float[1000, 1];
        var target = new float[1000, 1];
        for (int i = 0; i < 1000; i++)
        {
            data[i, 0] = -3f + 6f * i / 999;
            target[i, 0] = 2f * data[i, 0] + 3f;
        }

        using var neuron = new Linear(insize: 1, outsize: 1);   // on Device.Default: CUDA when present, else host
        using var cost = new MseCost();
        var optimizer = new Sgd(learnRate: 0.1f);
        optimizer.SetupOn(neuron);
        using var trainer = new Trainer(neuron, cost, optimizer, batchSize: 16);

        for (int epoch = 0; epoch < 20; epoch++)
            trainer.TrainFromHost(data, target);   // the batches in a fresh order each epoch

        float w = neuron.W.ToArray()[0], b = neuron.B!.ToArray()[0];
        Console.WriteLine($"w = {w:F3}, b = {b:F3}, mean error {cost.MeanError:E2} on {neuron.Device}");
        // --- README example ends ---

        Assert.That(w, Is.EqualTo(2f).Within(1e-3f));
        Assert.That(b, Is.EqualTo(3f).Within(1e-3f));
    }

    [TestCase("README.md")]
    [TestCase("src/NeuronInterop/PACKAGE.md")]
    public void ReadmeShowsExactlyThisExample(string readmePath)
    {
        string root = RepositoryRoot.Find()
            ?? throw new AssertionException($"No repository root (README.md beside NeuronInterop.sln) above the current folder or {AppContext.BaseDirectory}");
        string source = File.ReadAllText(Path.Combine(root, "tests", "NeuronInterop.Tests", "Model", "ReadmeExampleTests.cs"));
        const string begin = "// --- README example begins ---", end = "// --- README example ends ---";
        int first = source.IndexOf(begin, StringComparison.Ordinal) + begin.Length;
        string[] lines = source[first..source.IndexOf(end, first, StringComparison.Ordinal)]
            .Split('\n').Select(l => l.TrimEnd()).SkipWhile(l => l.Length == 0).ToArray();
        lines = lines.Take(lines.Length - lines.Reverse().TakeWhile(l => l.Length == 0).Count()).ToArray();
        int indent = lines.Where(l => l.Length > 0).Min(l => l.Length - l.TrimStart().Length);
        string example = string.Join("\n", lines.Select(l => l.Length == 0 ? l : l[indent..]));

        string readme = File.ReadAllText(Path.Combine(root, readmePath)).Replace("\r\n", "\n");
        Assert.That(readme, Does.Contain(example), $"{readmePath}'s usage example must be the code this test runs");
    }
}
