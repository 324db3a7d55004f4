using NeuronInterop.Cost;
using NeuronInterop.Handlers;
using NeuronInterop.Modules;
using NeuronInterop.Optimizers;
using NeuronInterop.Reference;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;

namespace NeuronInterop.Tests.Model;

/// <summary>
/// The tutorial's training, step by step: the library's Linear trained by <see cref="Trainer.TrainFromHost"/>
/// one sample at a time beside the tutorial's hand-made neuron, on the same random samples.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
public sealed class GoldenRunTests
{
    private const int Steps = 500;
    private const float LearnRate = 1e-2f;
    private readonly string _backend;
    private Device TestDevice => TestBackends.Get(_backend);

    public GoldenRunTests(string backend) => _backend = backend;

    [SetUp]
    public void SetUp() => TestBackends.Get(_backend);

    [TestCase(2021)]
    [TestCase(7)]
    public void LibraryNeuronFollowsTheTutorialNeuron(int seed)
    {
        float[] x = TutorialData.Linspace(-3f, 3f, 1000);
        var neuron = new TutorialNeuron();
        using var layer = new Linear(insize: 1, outsize: 1, device: TestDevice);
        layer.W.Fill(1f);
        layer.B!.Fill(0f);
        using var cost = new MseCost();
        var optimizer = new Sgd(LearnRate);
        optimizer.SetupOn(layer);
        using var trainer = new Trainer(layer, cost, optimizer, batchSize: 1);
        var random = new Random(seed);
        int macroBatches = 0;

        for (int step = 0; step < Steps; step++)
        {
            float sample = x[random.Next(0, 1000)];
            float y = TutorialData.Line(sample);
            float tutorialError = neuron.Optimize(sample, y, LearnRate);
            trainer.TrainFromHost(new[,] { { sample } }, new[,] { { y } }, macroBatchSize: 1,
                onMacroBatchFinish: _ => macroBatches++);

            float w = layer.W.ToArray()[0], b = layer.B.ToArray()[0];
            Assert.That(w, Is.EqualTo(neuron.W).Within(1e-5f), $"w after step {step}");
            Assert.That(b, Is.EqualTo(neuron.B).Within(1e-5f), $"b after step {step}");
            Assert.That(Math.Abs(cost.MeanError - tutorialError), Is.LessThanOrEqualTo(1e-6 + 1e-5 * tutorialError),
                $"error of step {step}");
        }

        Assert.That(macroBatches, Is.EqualTo(Steps));
        Assert.That(trainer.BatchesTrained, Is.EqualTo(Steps));
        Assert.That(neuron.W, Is.EqualTo(2f).Within(0.05f));
        Assert.That(neuron.B, Is.EqualTo(3f).Within(0.05f));
        Assert.That(layer.W.ToArray()[0], Is.EqualTo(2f).Within(0.05f));
        Assert.That(layer.B.ToArray()[0], Is.EqualTo(3f).Within(0.05f));
    }

    [Test]
    public void WithoutBiasBothNeuronsStayParallelToTheLine()
    {
        float[] x = TutorialData.Linspace(-3f, 3f, 1000);
        var neuron = new TutorialNeuron(useBias: false);
        using var layer = new Linear(1, 1, useBias: false, device: TestDevice);
        layer.W.Fill(1f);
        using var cost = new MseCost();
        var optimizer = new Sgd(LearnRate);
        optimizer.SetupOn(layer);
        using var trainer = new Trainer(layer, cost, optimizer, batchSize: 1);
        var random = new Random(11);

        for (int step = 0; step < Steps; step++)
        {
            float sample = x[random.Next(0, 1000)];
            neuron.Optimize(sample, TutorialData.Line(sample), LearnRate);
            trainer.TrainFromHost(new[,] { { sample } }, new[,] { { TutorialData.Line(sample) } }, macroBatchSize: 1);
            Assert.That(layer.W.ToArray()[0], Is.EqualTo(neuron.W).Within(1e-5f), $"w after step {step}");
        }

        // Without bias the offset of 3 cannot be learnt: the mean error over the line stays at
        // ((w − 2)²·mean(x²) + 3²)/2, at least 4.5, while w wanders around 2.
        var data = new float[1000, 1];
        var target = new float[1000, 1];
        double meanSquare = 0;
        for (int i = 0; i < 1000; i++)
        {
            data[i, 0] = x[i];
            target[i, 0] = TutorialData.Line(x[i]);
            meanSquare += x[i] * (double)x[i] / 1000;
        }
        double w = neuron.W;
        double expected = ((w - 2) * (w - 2) * meanSquare + 9) / 2;
        double error = new Validator(layer, cost, batchSize: 128).ValidateFromHost(data, target);
        Assert.That(error, Is.EqualTo(expected).Within(1e-3).Percent);
        Assert.That(error, Is.GreaterThanOrEqualTo(4.5));
    }
}
