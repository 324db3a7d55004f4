using NeuronInterop.Reference;
using NUnit.Framework;

namespace NeuronInterop.Tests.Reference;

/// <summary>The tutorial's neuron, error and data helpers, checked against hand computation.</summary>
[TestFixture]
public sealed class TutorialReferenceTests
{
    [Test]
    public void NeuronStartsAtOneAndZero()
    {
        var neuron = new TutorialNeuron();
        Assert.That((neuron.W, neuron.B), Is.EqualTo((1f, 0f)));
        Assert.That(neuron.Forward(2.5f), Is.EqualTo(2.5f));
    }

    [Test]
    public void FirstOptimizeStepMatchesHandComputation()
    {
        // x = 2, target = 2·2 + 3 = 7, prediction = 2·1 + 0 = 2.
        // error = 0.5·(7 − 2)² = 12.5; grad = −(7 − 2) = −5.
        // w = 1 − 2·(−5)·0.1 = 2; b = 0 − (−5)·0.1 = 0.5.
        var neuron = new TutorialNeuron();
        float error = neuron.Optimize(2f, TutorialData.Line(2f), 0.1f);
        Assert.That(error, Is.EqualTo(12.5f));
        Assert.That(neuron.W, Is.EqualTo(2f).Within(1e-6f));
        Assert.That(neuron.B, Is.EqualTo(0.5f).Within(1e-6f));

        // Second step, x = −1: prediction = −2 + 0.5 = −1.5, target 1, grad = −2.5;
        // w = 2 − (−1)·(−2.5)·0.1 = 1.75, b = 0.5 + 0.25 = 0.75.
        neuron.Optimize(-1f, TutorialData.Line(-1f), 0.1f);
        Assert.That(neuron.W, Is.EqualTo(1.75f).Within(1e-6f));
        Assert.That(neuron.B, Is.EqualTo(0.75f).Within(1e-6f));
    }

    [Test]
    public void NeuronWithoutBiasIgnoresAndKeepsTheBias()
    {
        // x = 1, target = 5: prediction = 1, grad = −4, w = 1 + 4·0.1 = 1.4, b stays 0.
        var neuron = new TutorialNeuron(useBias: false);
        neuron.Optimize(1f, TutorialData.Line(1f), 0.1f);
        Assert.That(neuron.W, Is.EqualTo(1.4f).Within(1e-6f));
        Assert.That(neuron.B, Is.EqualTo(0f));
    }

    [Test]
    public void ErrorValueAndGradient()
    {
        Assert.That(TutorialError.Value(3f, 1f), Is.EqualTo(2f));
        Assert.That(TutorialError.Grad(3f, 1f), Is.EqualTo(-2f));
        Assert.That(TutorialError.Grad(1f, 3f), Is.EqualTo(2f));
    }

    [Test]
    public void LinspaceMatchesNumpy()
    {
        float[] x = TutorialData.Linspace(-3f, 3f, 1000);
        Assert.That(x, Has.Length.EqualTo(1000));
        Assert.That(x[0], Is.EqualTo(-3f));
        Assert.That(x[999], Is.EqualTo(3f));
        // np.linspace(-3, 3, 1000, dtype=np.float32)[1] = float32(-3 + 6/999).
        Assert.That(x[1], Is.EqualTo((float)(-3.0 + 6.0 / 999.0)));
        Assert.That(x[500], Is.EqualTo((float)(500 * (6.0 / 999.0) - 3.0)));
        Assert.That(TutorialData.Linspace(0f, 1f, 5), Is.EqualTo(new[] { 0f, 0.25f, 0.5f, 0.75f, 1f }));
        Assert.That(TutorialData.Linspace(4f, 9f, 1), Is.EqualTo(new[] { 4f }));
    }

    [Test]
    public void TutorialTrainingConvergesInFiveHundredSteps()
    {
        float[] x = TutorialData.Linspace(-3f, 3f, 1000);
        var neuron = new TutorialNeuron();
        var random = new Random(1234);
        for (int i = 0; i < 500; i++)
        {
            float sample = x[random.Next(0, 1000)];
            neuron.Optimize(sample, TutorialData.Line(sample), 1e-2f);
        }
        Assert.That(neuron.W, Is.EqualTo(2f).Within(0.05f));
        Assert.That(neuron.B, Is.EqualTo(3f).Within(0.05f));
    }
}
