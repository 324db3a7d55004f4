using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;

namespace NeuronInterop.Tests.Bindings;

/// <summary>Host → device → host copies, fills, row views and row copies on every backend.</summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
public sealed class TensorRoundTripTests(string backend)
{
    /// <summary>The shared device under test (not owned by the fixture, so not disposed by it).</summary>
    private Device Device => TestBackends.Get(backend);

    private static IEnumerable<long[]> Shapes() =>
    [
        [1],
        [3],
        [1, 1],
        [1, 7919],
        [7919, 1],
        [13, 17],
        [2, 3, 5, 7],
        [1000, 1000],
        [4_000_000],
    ];

    [SetUp]
    public void SkipAbsentBackends() => _ = TestBackends.Get(backend);

    [TestCaseSource(nameof(Shapes))]
    public void FromArrayThenToArrayGivesTheDataBack(long[] shape)
    {
        float[] data = RandomData(shape.Aggregate(1L, (a, b) => a * b), seed: 1);
        using var tensor = Tensor.FromArray(Device, data, shape);

        Assert.Multiple(() =>
        {
            Assert.That(tensor.Shape, Is.EqualTo(shape));
            Assert.That(tensor.Rank, Is.EqualTo(shape.Length));
            Assert.That(tensor.ElementCount, Is.EqualTo(data.Length));
            Assert.That(tensor.RowCount, Is.EqualTo(shape[0]));
            Assert.That(tensor.Device, Is.SameAs(Device));
            Exact(tensor.ToArray(), data, "FromArray then ToArray");
        });
    }

    [TestCaseSource(nameof(Shapes))]
    public void CopyFromThenCopyToGivesTheDataBack(long[] shape)
    {
        using var tensor = new Tensor(Device, shape);
        float[] data = RandomData(tensor.ElementCount, seed: 2);
        tensor.CopyFrom(data);

        var back = new float[data.Length + 5];
        back.AsSpan(data.Length).Fill(-7f);
        tensor.CopyTo(back);

        Exact(back.AsSpan(0, data.Length), data, "CopyFrom then CopyTo");
        Assert.That(back.AsSpan(data.Length).ToArray(), Is.All.EqualTo(-7f), "CopyTo wrote past the tensor's elements.");
    }

    [TestCase(1, 1)]
    [TestCase(3, 1)]
    [TestCase(1, 7919)]
    [TestCase(1000, 1000)]
    public void TwoDimensionalArraysRoundTrip(int rows, int columns)
    {
        var data = new float[rows, columns];
        var random = new Random(3);
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                data[r, c] = (float)random.NextDouble() * 2 - 1;
            }
        }

        using var tensor = Tensor.FromArray(Device, data);

        Assert.That(tensor.Shape, Is.EqualTo(new long[] { rows, columns }));
        Assert.That(tensor.ToArray2D(), Is.EqualTo(data));
        Assert.That(tensor.ToArray()[columns * (rows - 1)], Is.EqualTo(data[rows - 1, 0]), "ToArray is row-major.");
    }

    [Test]
    public void OneDimensionalArraysRoundTrip()
    {
        float[] data = RandomData(7919, seed: 4);
        using var tensor = Tensor.FromArray(Device, data);

        Assert.That(tensor.Shape, Is.EqualTo(new long[] { 7919 }));
        Exact(tensor.ToArray(), data, "1-D FromArray then ToArray");
    }

    [TestCaseSource(nameof(Shapes))]
    public void NewTensorsAreZeroAndFillSetsEveryElement(long[] shape)
    {
        using var tensor = new Tensor(Device, shape);
        float[] expected = new float[tensor.ElementCount];
        Exact(tensor.ToArray(), expected, "a new tensor");

        tensor.Fill(-2.5f);
        Array.Fill(expected, -2.5f);
        Exact(tensor.ToArray(), expected, "Fill(-2.5)");
    }

    [Test]
    public void FillUniformIsReproducibleWithinItsRangeAndMatchesTheHost()
    {
        using var first = new Tensor(Device, 301, 7);
        using var second = new Tensor(Device, 301, 7);
        using var other = new Tensor(Device, 301, 7);
        using var host = new Tensor(Device.Host, 301, 7);
        first.FillUniform(-0.5f, 2f, seed: 42);
        second.FillUniform(-0.5f, 2f, seed: 42);
        other.FillUniform(-0.5f, 2f, seed: 43);
        host.FillUniform(-0.5f, 2f, seed: 42);

        float[] values = first.ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(values, Is.All.GreaterThanOrEqualTo(-0.5f).And.All.LessThan(2f));
            Assert.That(values.Distinct().Count(), Is.GreaterThan(values.Length / 2), "Values are not spread out.");
            Exact(second.ToArray(), values, "The same seed gives other values.");
            Assert.That(other.ToArray(), Is.Not.EqualTo(values).AsCollection, "Another seed gives the same values.");
            Exact(values, host.ToArray(), "The backend differs from the host backend.");
        });
    }

    [Test]
    public void FillNormalHasTheAskedMomentsAndMatchesTheHost()
    {
        const int count = 200_000;
        using var tensor = new Tensor(Device, count);
        using var host = new Tensor(Device.Host, count);
        tensor.FillNormal(3f, 0.5f, seed: 7);
        host.FillNormal(3f, 0.5f, seed: 7);

        float[] values = tensor.ToArray();
        double mean = values.Average(v => (double)v);
        double variance = values.Average(v => (v - mean) * (v - mean));
        Assert.Multiple(() =>
        {
            // Standard errors: 0.5/sqrt(n) ≈ 0.0011 for the mean, about 0.0008 for the standard deviation.
            Assert.That(mean, Is.EqualTo(3.0).Within(0.01));
            Assert.That(Math.Sqrt(variance), Is.EqualTo(0.5).Within(0.01));
        });
        Tolerance.AssertClose(values, host.ToArray(), atol: 1e-6, rtol: 1e-5, "FillNormal against the host backend");
    }

    [Test]
    public void SliceRowsViewsTheRowsWithoutCopying()
    {
        float[] data = RandomData(10 * 3, seed: 5);
        using var tensor = Tensor.FromArray(Device, data, 10, 3);
        using var view = tensor.SliceRows(4, 5);

        Assert.That(view.Shape, Is.EqualTo(new long[] { 5, 3 }));
        Exact(view.ToArray(), data[12..27], "rows 4..8 through the view");

        view.Fill(9f);
        float[] expected = (float[])data.Clone();
        expected.AsSpan(12, 15).Fill(9f);
        Exact(tensor.ToArray(), expected, "Writing the view did not write the tensor.");
    }

    [Test]
    public void SliceRowsOfAViewAndAfterTheSourceIsDisposed()
    {
        float[] data = RandomData(50 * 4, seed: 6);
        var tensor = Tensor.FromArray(Device, data, 50, 4);
        using var view = tensor.SliceRows(10, 30);
        using var inner = view.SliceRows(5, 2);
        tensor.Dispose();

        Assert.That(inner.Shape, Is.EqualTo(new long[] { 2, 4 }));
        Exact(inner.ToArray(), data[60..68], "the view of a view");
        Exact(view.ToArray(), data[40..160], "the view after its source was disposed");
    }

    [Test]
    public void SliceRowsOfAHigherRankTensorKeepsTheInnerDimensions()
    {
        float[] data = RandomData(6 * 2 * 3, seed: 8);
        using var tensor = Tensor.FromArray(Device, data, 6, 2, 3);
        using var view = tensor.SliceRows(5, 1);

        Assert.That(view.Shape, Is.EqualTo(new long[] { 1, 2, 3 }));
        Exact(view.ToArray(), data[30..36], "the last row of a rank-3 tensor");
    }

    [TestCase(0, 0, 8)]
    [TestCase(2, 5, 3)]
    [TestCase(7, 0, 1)]
    public void CopyRowsFromCopiesTheRows(int sourceRow, int destinationRow, int rowCount)
    {
        const int columns = 5;
        float[] sourceData = RandomData(8 * columns, seed: 9);
        float[] destinationData = RandomData(8 * columns, seed: 10);
        using var source = Tensor.FromArray(Device, sourceData, 8, columns);
        using var destination = Tensor.FromArray(Device, destinationData, 8, columns);

        destination.CopyRowsFrom(source, sourceRow, destinationRow, rowCount);

        float[] expected = (float[])destinationData.Clone();
        sourceData.AsSpan(sourceRow * columns, rowCount * columns).CopyTo(expected.AsSpan(destinationRow * columns));
        Exact(destination.ToArray(), expected, "the destination after CopyRowsFrom");
        Exact(source.ToArray(), sourceData, "The source changed.");
    }

    [Test]
    public void CopyRowsFromBetweenTensorsOfDifferentRowCounts()
    {
        float[] sourceData = RandomData(3 * 4, seed: 11);
        using var source = Tensor.FromArray(Device, sourceData, 3, 4);
        using var destination = new Tensor(Device, 100, 4);

        destination.CopyRowsFrom(source, 0, 97, 3);

        float[] result = destination.ToArray();
        Exact(result[(97 * 4)..], sourceData, "the copied rows");
        Assert.That(result[..(97 * 4)], Is.All.EqualTo(0f));
    }

    [Test]
    public void CopyFromTensorCopiesEveryElementAcrossShapes()
    {
        float[] data = RandomData(24, seed: 12);
        using var source = Tensor.FromArray(Device, data, 4, 6);
        using var destination = new Tensor(Device, 2, 12);

        destination.CopyFrom(source);

        Exact(destination.ToArray(), data, "CopyFrom(Tensor)");
    }

    [Test]
    public void CopyFromTensorOnAnotherDeviceCrossesDevices()
    {
        // On CUDA the host is the other device; on the host a second host context is one.
        using Device? owned = Device.Backend == BackendKind.Cuda ? null : Device.CreateOwned(BackendKind.Host);
        Device other = owned ?? Device.Host;
        float[] data = RandomData(1000, seed: 13);
        using var otherTensor = Tensor.FromArray(other, data);
        using var tensor = new Tensor(Device, 1000);
        using var back = new Tensor(other, 10, 100);

        tensor.CopyFrom(otherTensor);
        back.CopyFrom(tensor);

        Exact(back.ToArray(), data, "there, here and back through CopyFrom(Tensor)");
    }

    [Test]
    public void CopyFromTensorOnASecondDeviceOfTheSameBackendCrossesIt()
    {
        // Two CUDA contexts copy device to device, two host contexts host memory to host memory.
        using Device other = Device.CreateOwned(Device.Backend, Device.Index);
        const int count = 100_003;
        float[] data = RandomData(count, seed: 14);
        using var tensor = Tensor.FromArray(Device, data);
        using var there = new Tensor(other, count);
        using var back = new Tensor(Device, count);

        there.CopyFrom(tensor);
        back.CopyFrom(there);

        Exact(back.ToArray(), data, "to a second device of the same backend and back");
    }

    [Test]
    public void SynchronizeAfterWorkSucceeds()
    {
        using var tensor = new Tensor(Device, 1000, 10);
        tensor.FillUniform(0f, 1f, seed: 1);
        Assert.DoesNotThrow(Device.Synchronize);
    }

    private static void Exact(ReadOnlySpan<float> got, ReadOnlySpan<float> expected, string what) =>
        Tolerance.AssertClose(got, expected, atol: 0, rtol: 0, what);

    internal static float[] RandomData(long count, int seed)
    {
        var random = new Random(seed);
        var data = new float[count];
        for (long i = 0; i < count; i++)
        {
            data[i] = (float)(random.NextDouble() * 200 - 100);
        }

        return data;
    }
}
