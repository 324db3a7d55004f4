using NeuronInterop.Cli.RestoreLine;
using NUnit.Framework;

namespace NeuronInterop.Tests.Cli;

/// <summary>The learning curve's log axis: numbers on it whatever the errors span, and errors drawn where they are.</summary>
public sealed class LearningCurveTests
{
    private static string[] Labels(double low, double high, double? zeroAt = null) =>
        Figures.ErrorTicks(low, high, zeroAt).Where(t => t.Major).Select(t => t.Label).ToArray();

    [Test]
    public void OverTwoPowersOfTenOrMoreThePowersAreLabelled()
    {
        var ticks = Figures.ErrorTicks(Math.Log10(1.9e-4), Math.Log10(14));
        Assert.That(ticks.Where(t => t.Major).Select(t => t.Label), Is.EqualTo(new[] { "1e-3", "1e-2", "1e-1", "1e0", "1e1" }));
        Assert.That(ticks.Where(t => t.Major).Select(t => t.Position), Is.EqualTo(new[] { -3.0, -2, -1, 0, 1 }));
        double[] minors = ticks.Where(t => !t.Major).Select(t => Math.Round(Math.Pow(10, t.Position), 9)).ToArray();
        Assert.That(minors, Does.Contain(2e-4).And.Contain(9e-1).And.Contain(2.0), "minor ticks at the multiples within the range");
        Assert.That(minors, Has.None.LessThan(1.9e-4).And.None.GreaterThan(14), "none outside it");
    }

    // A no-bias run's errors stay between 1.7 and 7.3: no power of ten lies within.
    [TestCase(1.7, 7.3, new[] { "2e0", "3e0", "4e0", "5e0", "6e0", "7e0" })]
    // Across one power of ten only: the multiples on either side of it.
    [TestCase(0.3, 4.5, new[] { "3e-1", "4e-1", "5e-1", "6e-1", "7e-1", "8e-1", "9e-1", "1e0", "2e0", "3e0", "4e0" })]
    // Narrow: the coarsest steps that give three numbers (whole ones and halves give one each here).
    [TestCase(5.52, 6.05, new[] { "5.6e0", "5.8e0", "6e0" })]
    [TestCase(2.001e-3, 2.031e-3, new[] { "2.01e-3", "2.02e-3", "2.03e-3" })]
    public void WithinLessThanTwoPowersOfTenMultiplesAreLabelled(double low, double high, string[] expected)
    {
        Assert.That(Labels(Math.Log10(low), Math.Log10(high)), Is.EqualTo(expected));
    }

    [TestCase(1.109, 1.109, "1.109")]
    [TestCase(2.001e-3, 2.019e-3, "0.00201")]
    public void ACurveNarrowerThanAHundredthOfItsValueIsLabelledWithIt(double low, double high, string expected)
    {
        Assert.That(Labels(Math.Log10(low), Math.Log10(high)), Is.EqualTo(new[] { expected }));
    }

    [Test]
    public void ErrorsBelowOneInATrillionAreDrawnWhereTheyAreAndZerosBelowThem()
    {
        float[] errors = [3e-13f, 2.8e-14f, 1.78e-15f, 0f];
        double zeroAt = Figures.ZeroErrorLog(errors);
        double[] logs = Figures.Log10(errors, zeroAt);

        Assert.That(zeroAt, Is.EqualTo(-16), "a power of ten below the smallest positive error, 1.78e-15");
        Assert.That(logs[..3], Is.EqualTo(new[] { Math.Log10(3e-13f), Math.Log10(2.8e-14f), Math.Log10(1.78e-15f) }));
        Assert.That(logs[3], Is.EqualTo(-16));
        string[] labels = Labels(logs.Min(), logs.Max(), zeroAt);
        Assert.That(labels, Is.EqualTo(new[] { "0", "1e-15", "1e-14", "1e-13" }), "the zeros' tick reads 0");
    }

    [Test]
    public void OnlyZerosAreDrawnAtOneInATrillionAndLabelledZero()
    {
        float[] errors = [0f, 0f, 0f];
        double zeroAt = Figures.ZeroErrorLog(errors, errors);
        Assert.That(zeroAt, Is.EqualTo(-12));
        Assert.That(Labels(-12, -12, zeroAt), Is.EqualTo(new[] { "0" }));
    }
}
