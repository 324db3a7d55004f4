using NeuronInterop.Reference;
using NUnit.Framework;

namespace NeuronInterop.Tests.Reference;

/// <summary>The double-precision reference ops on cases small enough to compute by hand.</summary>
[TestFixture]
public sealed class ReferenceOpsTests
{
    // X (2×3) = [[1, 2, 3], [4, 5, 6]], W (3×2) = [[1, -1], [0, 2], [0.5, 1]], b = [10, 20].
    private static readonly double[] X = { 1, 2, 3, 4, 5, 6 };
    private static readonly double[] W = { 1, -1, 0, 2, 0.5, 1 };
    private static readonly double[] Bias = { 10, 20 };

    [Test]
    public void LinearForwardMultipliesAndAddsTheBias()
    {
        // Row 0: [1·1 + 2·0 + 3·0.5, 1·(−1) + 2·2 + 3·1] = [2.5, 6]; row 1: [4 + 3, −4 + 10 + 6] = [7, 12].
        double[] y = ReferenceLinear.Forward(X, W, Bias, 2, 3, 2);
        Assert.That(y, Is.EqualTo(new[] { 12.5, 26, 17, 32 }));

        double[] noBias = ReferenceLinear.Forward(X, W, ReadOnlySpan<double>.Empty, 2, 3, 2);
        Assert.That(noBias, Is.EqualTo(new[] { 2.5, 6, 7, 12 }));
    }

    [Test]
    public void LinearBackwardOverwritesGradients()
    {
        double[] g = { 1, 0, -1, 2 };  // G (2×2)
        var dx = new double[6];
        var dw = new double[6];
        var db = new double[2];
        dw.AsSpan().Fill(99);
        ReferenceLinear.Backward(X, W, g, dx, dw, db, 2, 3, 2, accumulate: false);

        // dX = G·Wᵀ: row 0 = [1, 0, 0.5]; row 1 = [−1·1 + 2·(−1), −1·0 + 2·2, −1·0.5 + 2·1] = [−3, 4, 1.5].
        Assert.That(dx, Is.EqualTo(new[] { 1, 0, 0.5, -3, 4, 1.5 }));
        // dW = Xᵀ·G: dW[i, 0] = x0i·1 + x1i·(−1), dW[i, 1] = x1i·2.
        Assert.That(dw, Is.EqualTo(new[] { -3, 8, -3, 10, -3, 12 }));
        // db = column sums of G.
        Assert.That(db, Is.EqualTo(new[] { 0, 2 }));
    }

    [Test]
    public void LinearBackwardAccumulatesIntoGradients()
    {
        double[] g = { 1, 0, -1, 2 };
        var dw = new double[] { 1, 1, 1, 1, 1, 1 };
        var db = new double[] { 5, 5 };
        ReferenceLinear.Backward(X, W, g, Span<double>.Empty, dw, db, 2, 3, 2, accumulate: true);
        Assert.That(dw, Is.EqualTo(new[] { -2, 9, -2, 11, -2, 13 }));
        Assert.That(db, Is.EqualTo(new[] { 5, 7 }));
    }

    [Test]
    public void LinearRejectsWrongSizes()
    {
        Assert.Throws<ArgumentException>(() => ReferenceLinear.Forward(X, W, Bias, 3, 3, 2));
        Assert.Throws<ArgumentException>(() => ReferenceLinear.Forward(X, W, new double[] { 1 }, 2, 3, 2));
    }

    [Test]
    public void MseErrorAndGradient()
    {
        double[] pred = { 1, 2, 3, 4 };
        double[] target = { 0, 2, 5, 4 };
        // Σd² = 1 + 0 + 4 + 0 = 5; N = 4: error = 5/8; grad = d/4.
        Assert.That(ReferenceMse.Error(pred, target), Is.EqualTo(0.625));
        Assert.That(ReferenceMse.Grad(pred, target), Is.EqualTo(new[] { 0.25, 0, -0.5, 0 }));
        Assert.Throws<ArgumentException>(() => ReferenceMse.Error(pred, new double[3]));
    }

    [Test]
    public void SgdSubtractsTheScaledGradient()
    {
        double[] param = { 1, 2 };
        ReferenceSgd.Update(param, new double[] { 10, -4 }, 0.5);
        Assert.That(param, Is.EqualTo(new[] { -4, 4 }));
    }
}
