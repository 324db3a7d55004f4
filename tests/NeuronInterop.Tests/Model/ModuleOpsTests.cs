using NeuronInterop.Cost;
using NeuronInterop.Handlers;
using NeuronInterop.Modules;
using NeuronInterop.Optimizers;
using NeuronInterop.Reference;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;
using static NeuronInterop.Tests.Model.ModelData;

namespace NeuronInterop.Tests.Model;

/// <summary>Linear, MSE and SGD on every backend against the double-precision reference.</summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
public sealed class ModuleOpsTests
{
    private const double Atol = 2e-5;
    private const double Rtol = 1e-4;
    private readonly string _backend;
    private Device TestDevice => TestBackends.Get(_backend);

    public ModuleOpsTests(string backend) => _backend = backend;

    [SetUp]
    public void SetUp() => TestBackends.Get(_backend);

    private static int Seed(int batch, int inSize, int outSize) => batch * 1_000_003 + inSize * 1_009 + outSize;

    private Linear RandomLayer(int inSize, int outSize, bool useBias, int seed)
    {
        var layer = new Linear(inSize, outSize, useBias, seed: (ulong)seed, device: TestDevice);
        layer.B?.CopyFrom(Flat(Uniform(1, outSize, seed + 7)));
        return layer;
    }

    [TestCaseSource(typeof(ModelData), nameof(ModelData.Shapes))]
    public void ForwardMatchesReference(int batch, int inSize, int outSize)
    {
        int seed = Seed(batch, inSize, outSize);
        foreach (bool useBias in new[] { true, false })
        {
            using Linear layer = RandomLayer(inSize, outSize, useBias, seed);
            float[,] x = Uniform(batch, inSize, seed + 1);
            using Tensor input = Tensor.FromArray(TestDevice, x);

            Tensor output = layer.Forward(input);

            double[] expected = ReferenceLinear.Forward(ToDouble(x), ToDouble(layer.W.ToArray()),
                layer.B is null ? ReadOnlySpan<double>.Empty : ToDouble(layer.B.ToArray()), batch, inSize, outSize);
            Assert.That(output.Shape, Is.EqualTo(new long[] { batch, outSize }));
            Tolerance.AssertClose(output.ToArray(), expected, Atol, Rtol, $"Y (bias {useBias})");
        }
    }

    [TestCaseSource(typeof(ModelData), nameof(ModelData.Shapes))]
    public void BackwardOverwritesGradients(int batch, int inSize, int outSize)
    {
        int seed = Seed(batch, inSize, outSize) + 11;
        using Linear layer = RandomLayer(inSize, outSize, true, seed);
        float[,] x = Uniform(batch, inSize, seed + 1);
        float[,] g = Uniform(batch, outSize, seed + 2);
        using Tensor input = Tensor.FromArray(TestDevice, x);
        using Tensor grad = Tensor.FromArray(TestDevice, g);
        foreach (Parameter p in layer.Parameters)
        {
            p.Grad.Fill(123f);  // must be overwritten
        }

        layer.Forward(input);
        Tensor? inputGrad = layer.Backward(grad);

        var (dx, dw, db) = ReferenceGrads(layer, x, g);
        Assert.That(inputGrad, Is.Not.Null);
        Tolerance.AssertClose(inputGrad!.ToArray(), dx, Atol, Rtol, "dX");
        Tolerance.AssertClose(layer.WeightParameter.Grad.ToArray(), dw, Atol, Rtol, "dW");
        Tolerance.AssertClose(layer.BiasParameter!.Grad.ToArray(), db, Atol, Rtol, "db");
    }

    [TestCaseSource(typeof(ModelData), nameof(ModelData.Shapes))]
    public void BackwardAccumulatesParameterGradients(int batch, int inSize, int outSize)
    {
        int seed = Seed(batch, inSize, outSize) + 23;
        using Linear layer = RandomLayer(inSize, outSize, true, seed);
        float[,] x = Uniform(batch, inSize, seed + 1);
        float[,] g = Uniform(batch, outSize, seed + 2);
        float[] w0 = Flat(Uniform(inSize, outSize, seed + 3));
        float[] b0 = Flat(Uniform(1, outSize, seed + 4));
        layer.WeightParameter.Grad.CopyFrom(w0);
        layer.BiasParameter!.Grad.CopyFrom(b0);
        using Tensor input = Tensor.FromArray(TestDevice, x);
        using Tensor grad = Tensor.FromArray(TestDevice, g);

        layer.Forward(input);
        Tensor? inputGrad = layer.Backward(grad, updGrad: true, accumulate: true);

        var (dx, dw, db) = ReferenceGrads(layer, x, g);
        for (int i = 0; i < dw.Length; i++) dw[i] += w0[i];
        for (int i = 0; i < db.Length; i++) db[i] += b0[i];
        Tolerance.AssertClose(inputGrad!.ToArray(), dx, Atol, Rtol, "dX (always overwritten)");
        Tolerance.AssertClose(layer.WeightParameter.Grad.ToArray(), dw, Atol, Rtol, "dW accumulated");
        Tolerance.AssertClose(layer.BiasParameter.Grad.ToArray(), db, Atol, Rtol, "db accumulated");
    }

    [Test]
    public void BackwardInEvalModeLeavesParameterGradientsAlone()
    {
        using Linear layer = RandomLayer(6, 4, true, 5);
        float[,] x = Uniform(9, 6, 6);
        float[,] g = Uniform(9, 4, 7);
        using Tensor input = Tensor.FromArray(TestDevice, x);
        using Tensor grad = Tensor.FromArray(TestDevice, g);
        layer.ZeroGradParams();
        layer.EvalMode();

        layer.Forward(input);
        Assert.That(layer.Backward(grad, updGrad: false), Is.Null);
        Tensor? inputGrad = layer.Backward(grad);

        Tolerance.AssertClose(inputGrad!.ToArray(), ReferenceGrads(layer, x, g).Dx, Atol, Rtol, "dX");
        Assert.That(layer.WeightParameter.Grad.ToArray(), Is.All.EqualTo(0f));
        Assert.That(layer.BiasParameter!.Grad.ToArray(), Is.All.EqualTo(0f));
        layer.TrainMode();
        Assert.That(layer.IsTraining, Is.True);
    }

    [Test]
    public void OutputIsReusedWhileTheBatchSizeStays()
    {
        using Linear layer = RandomLayer(3, 2, true, 1);
        using Tensor a = Tensor.FromArray(TestDevice, Uniform(4, 3, 2));
        using Tensor b = Tensor.FromArray(TestDevice, Uniform(4, 3, 3));
        using Tensor c = Tensor.FromArray(TestDevice, Uniform(5, 3, 4));

        Tensor first = layer.Forward(a);
        Tensor second = layer.Invoke(b);
        Tensor third = layer.Forward(c);

        Assert.That(second, Is.SameAs(first));
        Assert.That(third, Is.Not.SameAs(first));
        Assert.That(third.Shape, Is.EqualTo(new long[] { 5, 2 }));
    }

    /// <summary>
    /// One layer applied twice, <c>lin(lin(x))</c> as PuzzleLib allows: the second call's input is the first call's output,
    /// so it writes another buffer; the backward pass through the second call takes the first output as its input.
    /// </summary>
    [Test]
    public void ALayerAppliedToItsOwnOutputWritesAnotherBuffer()
    {
        using Linear layer = RandomLayer(3, 3, true, 5);
        float[,] x = Uniform(4, 3, 6);
        float[,] g = Uniform(4, 3, 7);
        using Tensor input = Tensor.FromArray(TestDevice, x);
        using Tensor grad = Tensor.FromArray(TestDevice, g);
        double[] w = ToDouble(layer.W.ToArray()), b = ToDouble(layer.B!.ToArray());

        Tensor once = layer.Forward(input);
        Tensor twice = layer.Forward(once);
        Tensor? gradOnce = layer.Backward(grad);
        Tensor? gradTwice = layer.Backward(gradOnce!);

        double[] y1 = ReferenceLinear.Forward(ToDouble(x), w, b, 4, 3, 3);
        double[] y2 = ReferenceLinear.Forward(y1, w, b, 4, 3, 3);
        Assert.That(twice, Is.Not.SameAs(once));
        Tolerance.AssertClose(once.ToArray(), y1, Atol, Rtol, "the first output, still whole");
        Tolerance.AssertClose(twice.ToArray(), y2, Atol, Rtol, "the second");
        // Both Backward calls go through the last Forward, whose input was the first output.
        double[] dx1 = new double[12], dx2 = new double[12], dw = new double[9], db = new double[3];
        ReferenceLinear.Backward(y1, w, ToDouble(g), dx1, dw, db, 4, 3, 3, accumulate: false);
        ReferenceLinear.Backward(y1, w, dx1, dx2, dw, db, 4, 3, 3, accumulate: false);
        Assert.That(gradTwice, Is.Not.SameAs(gradOnce));
        Tolerance.AssertClose(gradOnce!.ToArray(), dx1, Atol, Rtol, "the first input gradient, still whole");
        Tolerance.AssertClose(gradTwice!.ToArray(), dx2, Atol, Rtol, "the second");
        Tolerance.AssertClose(layer.WeightParameter.Grad.ToArray(), dw, Atol, Rtol, "dW of the last Backward");
    }

    /// <summary>
    /// A Validator and a Calculator given the layer's own output cut it into batches and run the layer on each: the
    /// output they were given is theirs to read throughout, and stays the caller's after, whatever the batch size.
    /// </summary>
    [TestCase(4)]
    [TestCase(3)]
    [TestCase(8)]
    public void HandlersGivenTheLayersOwnOutputReadItWhole(int batchSize)
    {
        using Linear layer = RandomLayer(3, 3, true, 8);
        float[,] x = Uniform(8, 3, 9), t = Uniform(8, 3, 10);
        using Tensor input = Tensor.FromArray(TestDevice, x);
        using Tensor target = Tensor.FromArray(TestDevice, t);
        using var cost = new MseCost(TestDevice);
        double[] w = ToDouble(layer.W.ToArray()), b = ToDouble(layer.B!.ToArray());
        double[] y1 = ReferenceLinear.Forward(ToDouble(x), w, b, 8, 3, 3);
        double[] y2 = ReferenceLinear.Forward(y1, w, b, 8, 3, 3);

        Tensor once = layer.Forward(input);
        double error = new Validator(layer, cost, batchSize).Validate(once, target);
        Assert.That(error, Is.EqualTo(ReferenceMse.Error(y2, ToDouble(t))).Within(1e-5), "the error of lin(lin(x))");
        Tolerance.AssertClose(once.ToArray(), y1, Atol, Rtol, "the output validated, still whole");

        once = layer.Forward(input);
        using Tensor twice = new Calculator(layer, batchSize).Calc(once);
        Tolerance.AssertClose(twice.ToArray(), y2, Atol, Rtol, "lin(lin(x)), calculated");
        Tolerance.AssertClose(once.ToArray(), y1, Atol, Rtol, "the output calculated on, still whole");
    }

    /// <summary>A row view of the layer's own output is an input like the output itself: the call writes another buffer.</summary>
    [TestCase(0, 4)]
    [TestCase(1, 2)]
    public void ALayerAppliedToARowViewOfItsOwnOutputWritesAnotherBuffer(int firstRow, int rows)
    {
        using Linear layer = RandomLayer(3, 3, true, 11);
        float[,] x = Uniform(4, 3, 12);
        using Tensor input = Tensor.FromArray(TestDevice, x);
        double[] w = ToDouble(layer.W.ToArray()), b = ToDouble(layer.B!.ToArray());
        double[] y1 = ReferenceLinear.Forward(ToDouble(x), w, b, 4, 3, 3);
        double[] y2 = ReferenceLinear.Forward(y1.AsSpan(firstRow * 3, rows * 3), w, b, rows, 3, 3);

        Tensor once = layer.Forward(input);
        using Tensor view = once.SliceRows(firstRow, rows);
        Tensor twice = layer.Forward(view);

        Tolerance.AssertClose(twice.ToArray(), y2, Atol, Rtol, "lin(view of lin(x))");
        Tolerance.AssertClose(once.ToArray(), y1, Atol, Rtol, "the first output, still whole");
    }

    /// <summary>
    /// Backward after a Forward whose input was the layer's last input gradient (or a view of it) writes the new input
    /// gradient elsewhere: the remembered input stays whole, as the gradient given does, in every combination.
    /// </summary>
    [Test]
    public void BackwardAfterAForwardOnItsOwnInputGradientWritesAnotherBuffer()
    {
        using Linear layer = RandomLayer(3, 3, true, 13);
        float[,] x = Uniform(4, 3, 14), g = Uniform(4, 3, 15);
        using Tensor input = Tensor.FromArray(TestDevice, x);
        using Tensor grad = Tensor.FromArray(TestDevice, g);
        double[] w = ToDouble(layer.W.ToArray()), b = ToDouble(layer.B!.ToArray());
        double[] dw = new double[9], db = new double[3];
        double[] Dx(double[] at, double[] outputGrad)
        {
            var dx = new double[12];
            ReferenceLinear.Backward(at, w, outputGrad, dx, dw, db, 4, 3, 3, accumulate: false);
            return dx;
        }

        layer.Forward(input);
        Tensor dx1 = layer.Backward(grad)!;
        double[] expected1 = Dx(ToDouble(x), ToDouble(g));
        layer.Forward(dx1);
        Tensor dx2 = layer.Backward(grad)!;
        double[] expected2 = Dx(expected1, ToDouble(g));
        Tolerance.AssertClose(dx2.ToArray(), expected2, Atol, Rtol, "Backward with its own input gradient as the input");
        Tolerance.AssertClose(dx1.ToArray(), expected1, Atol, Rtol, "the remembered input, still whole");

        // The input is one earlier input gradient, the gradient given the other: a third buffer takes the result.
        layer.Forward(dx2);
        Tensor dx3 = layer.Backward(dx1)!;
        double[] expected3 = Dx(expected2, expected1);
        Tolerance.AssertClose(dx3.ToArray(), expected3, Atol, Rtol, "Backward with both earlier input gradients in use");
        Tolerance.AssertClose(dx2.ToArray(), expected2, Atol, Rtol, "the remembered input, still whole");
        Tolerance.AssertClose(dx1.ToArray(), expected1, Atol, Rtol, "the gradient given, still whole");
        Tolerance.AssertClose(layer.WeightParameter.Grad.ToArray(), dw, Atol, Rtol, "dW of the last Backward");

        using Tensor view = dx3.SliceRows(0, 4);
        layer.Forward(view);
        Tensor dx4 = layer.Backward(grad)!;
        Tolerance.AssertClose(dx4.ToArray(), Dx(expected3, ToDouble(g)), Atol, Rtol, "Backward with a view of its own input gradient as the input");
    }

    [Test]
    public void ZeroGradParamsZeroesEveryGradient()
    {
        using Linear layer = RandomLayer(5, 3, true, 2);
        foreach (Parameter p in layer.Parameters) p.Grad.Fill(4f);
        layer.ZeroGradParams();
        Assert.That(layer.Parameters.SelectMany(p => p.Grad.ToArray()), Is.All.EqualTo(0f));
        Assert.That(layer.Parameters.Select(p => p.Name), Is.EqualTo(new[] { "W", "b" }));
        using var noBias = new Linear(5, 3, useBias: false, device: TestDevice);
        Assert.That(noBias.Parameters.Select(p => p.Name), Is.EqualTo(new[] { "W" }));
        Assert.That(noBias.B, Is.Null);
    }

    [TestCaseSource(typeof(ModelData), nameof(ModelData.Shapes))]
    public void MseMatchesReference(int batch, int inSize, int outSize)
    {
        int seed = Seed(batch, inSize, outSize) + 31;
        float[,] p = Uniform(batch, outSize, seed);
        float[,] t = Uniform(batch, outSize, seed + 1);
        using Tensor prediction = Tensor.FromArray(TestDevice, p);
        using Tensor target = Tensor.FromArray(TestDevice, t);
        using var cost = new MseCost(TestDevice);

        var (error, grad) = cost.Compute(prediction, target);

        Tolerance.AssertClose(grad.ToArray(), ReferenceMse.Grad(ToDouble(p), ToDouble(t)), 1e-9, Rtol, "grad");
        Tolerance.AssertClose(new[] { error.Value }, new[] { ReferenceMse.Error(ToDouble(p), ToDouble(t)) }, 1e-9, Rtol, "error");
        Assert.That(cost.LastError, Is.EqualTo(error.Value));
        Assert.That(cost.SampleCount, Is.EqualTo(batch));
    }

    [Test]
    public void MseAccumulatesABatchWeightedMean()
    {
        using var cost = new MseCost(TestDevice);
        Assert.That(cost.MeanError, Is.NaN);
        Assert.That(cost.LastError, Is.NaN);
        double weighted = 0;
        int samples = 0;
        foreach (int rows in new[] { 7, 3, 1, 12 })
        {
            float[,] p = Uniform(rows, 5, rows);
            float[,] t = Uniform(rows, 5, rows + 100);
            using Tensor prediction = Tensor.FromArray(TestDevice, p);
            using Tensor target = Tensor.FromArray(TestDevice, t);
            cost.Compute(prediction, target);
            weighted += ReferenceMse.Error(ToDouble(p), ToDouble(t)) * rows;
            samples += rows;
        }

        Assert.That(cost.SampleCount, Is.EqualTo(samples));
        Assert.That(cost.MeanError, Is.EqualTo(weighted / samples).Within(0.001).Percent);

        cost.ResetAccumulator();
        Assert.That(cost.SampleCount, Is.Zero);
        Assert.That(cost.MeanError, Is.NaN);
    }

    [TestCaseSource(typeof(ModelData), nameof(ModelData.Shapes))]
    public void SgdMatchesReference(int batch, int inSize, int outSize)
    {
        int seed = Seed(batch, inSize, outSize) + 47;
        using Linear layer = RandomLayer(inSize, outSize, true, seed);
        float[] w = layer.W.ToArray(), b = layer.B!.ToArray();
        float[] dw = Flat(Uniform(inSize, outSize, seed + 1)), db = Flat(Uniform(1, outSize, seed + 2));
        layer.WeightParameter.Grad.CopyFrom(dw);
        layer.BiasParameter!.Grad.CopyFrom(db);
        var sgd = new Sgd(0.37f);
        sgd.SetupOn(layer);

        sgd.Update();

        double[] expectedW = ToDouble(w), expectedB = ToDouble(b);
        ReferenceSgd.Update(expectedW, ToDouble(dw), 0.37f);
        ReferenceSgd.Update(expectedB, ToDouble(db), 0.37f);
        Tolerance.AssertClose(layer.W.ToArray(), expectedW, 1e-6, 1e-6, "W");
        Tolerance.AssertClose(layer.B.ToArray(), expectedB, 1e-6, 1e-6, "b");
    }

    [Test]
    public void InitSchemesFollowPuzzleLib()
    {
        const int inSize = 300, outSize = 200;
        using (var xavier = new Linear(inSize, outSize, seed: 3, device: TestDevice))
        {
            float bound = MathF.Sqrt(3f / inSize);
            float[] w = xavier.W.ToArray();
            Assert.That(w, Is.All.InRange(-bound, bound));
            Assert.That(w.Max(), Is.GreaterThan(0.95f * bound));
            Assert.That(xavier.B!.ToArray(), Is.All.EqualTo(0f));
            using var again = new Linear(inSize, outSize, seed: 3, device: TestDevice);
            Assert.That(again.W.ToArray(), Is.EqualTo(w), "the same seed gives the same W");
            using var other = new Linear(inSize, outSize, seed: 4, device: TestDevice);
            Assert.That(other.W.ToArray(), Is.Not.EqualTo(w));
        }

        AssertStd(InitScheme.XavierNormal, 2f, 2 * Math.Sqrt(1.0 / inSize));
        AssertStd(InitScheme.He, 1f, Math.Sqrt(2.0 / inSize));
        AssertStd(InitScheme.Gaussian, 0.5f, 0.5);
        using (var uniform = new Linear(inSize, outSize, initScheme: InitScheme.Uniform, wscale: 0.25f, device: TestDevice))
        {
            Assert.That(uniform.W.ToArray(), Is.All.InRange(-0.25f, 0.25f));
            Assert.That(uniform.W.ToArray().Max(), Is.GreaterThan(0.24f));
        }
        using (var none = new Linear(inSize, outSize, initScheme: InitScheme.None, device: TestDevice))
        {
            Assert.That(none.W.ToArray(), Is.All.EqualTo(0f));
        }

        void AssertStd(InitScheme scheme, float wscale, double expected)
        {
            using var layer = new Linear(inSize, outSize, initScheme: scheme, wscale: wscale, seed: 9, device: TestDevice);
            AssertSpread(layer, expected, scheme.ToString());
        }
    }

    [TestCase(InitScheme.XavierNormal, InitFactor.Out, 1.0 / 200)]
    [TestCase(InitScheme.XavierNormal, InitFactor.Average, 1.0 / 250)]
    [TestCase(InitScheme.He, InitFactor.Out, 2.0 / 200)]
    [TestCase(InitScheme.He, InitFactor.Average, 2.0 / 250)]
    public void TheFanFactorChoosesWhatTheNormalSchemesDivideBy(InitScheme scheme, InitFactor factor, double variance)
    {
        using var layer = new Linear(300, 200, initScheme: scheme, initFactor: factor, seed: 5, device: TestDevice);
        AssertSpread(layer, Math.Sqrt(variance), $"{scheme} by {factor}");
    }

    [TestCase(InitFactor.In, 3.0 / 300)]
    [TestCase(InitFactor.Out, 3.0 / 200)]
    [TestCase(InitFactor.Average, 3.0 / 250)]
    public void TheFanFactorChoosesTheXavierUniformBound(InitFactor factor, double boundSquared)
    {
        using var layer = new Linear(300, 200, initFactor: factor, wscale: 0.5f, seed: 6, device: TestDevice);
        float bound = (float)(0.5 * Math.Sqrt(boundSquared));
        float[] w = layer.W.ToArray();
        Assert.That(w, Is.All.InRange(-bound, bound));
        Assert.That(w.Max(), Is.GreaterThan(0.99f * bound));
        Assert.That(w.Min(), Is.LessThan(-0.99f * bound));
    }

    private static void AssertSpread(Linear layer, double expected, string what)
    {
        float[] w = layer.W.ToArray();
        double mean = w.Average(v => (double)v);
        double std = Math.Sqrt(w.Average(v => (v - mean) * (v - mean)));
        Assert.That(std, Is.EqualTo(expected).Within(3).Percent, what);
        Assert.That(Math.Abs(mean), Is.LessThan(0.05 * expected), what);
    }

    private static (double[] Dx, double[] Dw, double[] Db) ReferenceGrads(Linear layer, float[,] x, float[,] g)
    {
        int batch = x.GetLength(0);
        var dx = new double[batch * layer.InSize];
        var dw = new double[layer.InSize * layer.OutSize];
        var db = new double[layer.OutSize];
        ReferenceLinear.Backward(ToDouble(x), ToDouble(layer.W.ToArray()), ToDouble(g), dx, dw, db,
            batch, layer.InSize, layer.OutSize, accumulate: false);
        return (dx, dw, db);
    }
}
