using NeuronInterop.Native;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;

namespace NeuronInterop.Tests.Bindings;

/// <summary>Bad shapes, bad ranges, mismatched counts and disposed tensors give clear exceptions on every backend.</summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
public sealed class TensorErrorTests(string backend)
{
    /// <summary>The shared device under test (not owned by the fixture, so not disposed by it).</summary>
    private Device Device => TestBackends.Get(backend);

    [SetUp]
    public void SkipAbsentBackends() => _ = TestBackends.Get(backend);

    [TestCase(new long[0], "1 to 4 dimensions")]
    [TestCase(new long[] { 1, 2, 3, 4, 5 }, "1 to 4 dimensions")]
    [TestCase(new long[] { 3, 0 }, "greater than zero")]
    [TestCase(new long[] { -1 }, "greater than zero")]
    [TestCase(new long[] { long.MaxValue, 4 }, "more elements")]
    public void InvalidShapesAreRejected(long[] shape, string messagePart)
    {
        var e = Assert.Throws<ArgumentException>(() => new Tensor(Device, shape).Dispose());
        Assert.That(e!.Message, Does.Contain(messagePart));
        Assert.That(e.ParamName, Is.EqualTo("shape"));
    }

    [Test]
    public void AShapeTooLargeForTheDeviceIsOutOfMemory()
    {
        // 2^31 x 2^31 floats: the byte count overflows, which the library reports as out of memory.
        Assert.Throws<NeuronOutOfMemoryException>(() => new Tensor(Device, 1L << 31, 1L << 31).Dispose());
    }

    [Test]
    public void FromArrayChecksTheDataLengthAgainstTheShape()
    {
        var e = Assert.Throws<ArgumentException>(() => Tensor.FromArray(Device, new float[5], 2, 3).Dispose());
        Assert.That(e!.Message, Does.Contain("5").And.Contain("[2x3]").And.Contain("6"));
    }

    [Test]
    public void FromArrayRejectsEmptyArrays()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => Tensor.FromArray(Device, Array.Empty<float>()).Dispose())!.ParamName,
            Is.EqualTo("data"));
        var noRows = Assert.Throws<ArgumentException>(() => Tensor.FromArray(Device, new float[0, 3]).Dispose())!;
        Assert.That(noRows.ParamName, Is.EqualTo("data"));
        Assert.That(noRows.Message, Does.Contain("0 rows and 3 columns"));
    }

    [Test]
    public void CopyFromSpanChecksTheElementCount()
    {
        using var tensor = new Tensor(Device, 2, 3);
        var e = Assert.Throws<ArgumentException>(() => tensor.CopyFrom(new float[7]));
        Assert.That(e!.Message, Does.Contain("7").And.Contain("6"));
        Assert.That(tensor.ToArray(), Is.All.EqualTo(0f), "A rejected copy changed the tensor.");
    }

    [Test]
    public void CopyToRejectsAShortDestination()
    {
        using var tensor = new Tensor(Device, 4);
        Assert.Throws<ArgumentException>(() => tensor.CopyTo(new float[3]));
    }

    [Test]
    public void CopyFromTensorRejectsOtherElementCountsAlikeOnEveryPairOfDevices()
    {
        // A second device on every backend: another host device on the host, the host beside a CUDA device.
        using var other = Device.CreateOwned(BackendKind.Host);
        foreach ((Device from, Device to) in new[] { (Device, Device), (other, Device), (Device, other) })
        {
            string pair = $"from {from} to {to}";
            using var source = Tensor.FromArray(from, new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, 3, 3);
            using var destination = new Tensor(to, 2, 4);
            var e = Assert.Throws<ShapeMismatchException>(() => destination.CopyFrom(source), pair);
            Assert.That(e!.Status, Is.EqualTo(NeuronStatus.ShapeMismatch), pair);
            Assert.That(e.ParamName, Is.EqualTo("source"), pair);
            Assert.That(e.Message, Does.Contain("3x3").And.Contain("9 elements").And.Contain("2x4").And.Contain("8"), pair);
            Assert.That(destination.ToArray(), Is.All.EqualTo(0f), $"{pair}: a refused copy changed the tensor");
        }
    }

    [Test]
    public void ToArray2DNeedsRankTwo()
    {
        using var tensor = new Tensor(Device, 2, 3, 4);
        var e = Assert.Throws<InvalidOperationException>(() => tensor.ToArray2D());
        Assert.That(e!.Message, Does.Contain("[2x3x4]"));
    }

    [TestCase(-1, 2)]
    [TestCase(0, 0)]
    [TestCase(0, 11)]
    [TestCase(9, 2)]
    [TestCase(10, 1)]
    [TestCase(2, -3)]
    public void SliceRowsOutsideTheTensorIsRejectedWithTheNativeMessage(long firstRow, long rowCount)
    {
        using var tensor = new Tensor(Device, 10, 3);
        var e = Assert.Throws(Is.InstanceOf<NeuronArgumentException>(), () => tensor.SliceRows(firstRow, rowCount).Dispose());
        Assert.That(e!.Message, Does.StartWith("nrn_tensor_view_rows: ").And.Contain("source (10x3)"));
    }

    [TestCase(1f, -1f)]
    [TestCase(float.NaN, 1f)]
    [TestCase(-3e38f, 3e38f)]
    public void FillUniformRejectsARangeThatIsNotFiniteAndOrdered(float low, float high)
    {
        using var tensor = Tensor.FromArray(Device, new[] { 1f, 2f, 3f });
        var e = Assert.Throws<NeuronArgumentException>(() => tensor.FillUniform(low, high, 1));
        Assert.That(e!.Message, Does.Contain("nrn_tensor_fill_uniform").And.Contain("low <= high"));
        Assert.That(tensor.ToArray(), Is.EqualTo(new[] { 1f, 2f, 3f }), "a refused fill changes nothing");
    }

    [TestCase(0f, -1f)]
    [TestCase(float.PositiveInfinity, 1f)]
    [TestCase(0f, 1e38f)]
    public void FillNormalRejectsAnInvalidSpread(float mean, float stddev)
    {
        using var tensor = Tensor.FromArray(Device, new[] { 1f, 2f, 3f });
        var e = Assert.Throws<NeuronArgumentException>(() => tensor.FillNormal(mean, stddev, 1));
        Assert.That(e!.Message, Does.Contain("nrn_tensor_fill_normal").And.Contain("stddev >= 0"));
        Assert.That(tensor.ToArray(), Is.EqualTo(new[] { 1f, 2f, 3f }), "a refused fill changes nothing");
    }

    [Test]
    public void CopyRowsFromRejectsDifferentRowSizes()
    {
        using var source = new Tensor(Device, 4, 3);
        using var destination = new Tensor(Device, 4, 5);
        var e = Assert.Throws<ShapeMismatchException>(() => destination.CopyRowsFrom(source, 0, 0, 2));
        Assert.That(e!.Status, Is.EqualTo(NeuronStatus.ShapeMismatch));
        Assert.That(e.Message, Does.StartWith("nrn_tensor_copy_rows: ").And.Contain("their rows differ in size (3 vs 5 elements)"));
    }

    [TestCase(3, 0, 2)]
    [TestCase(0, 3, 2)]
    [TestCase(-1, 0, 1)]
    [TestCase(0, 0, 5)]
    public void CopyRowsFromRejectsRowsOutOfRange(long sourceRow, long destinationRow, long rowCount)
    {
        using var source = new Tensor(Device, 4, 3);
        using var destination = new Tensor(Device, 4, 3);
        Assert.Throws(Is.InstanceOf<NeuronArgumentException>(),
            () => destination.CopyRowsFrom(source, sourceRow, destinationRow, rowCount));
    }

    [Test]
    public void TensorsOfDifferentDevicesAreAContextMismatch()
    {
        using var other = Device.CreateOwned(BackendKind.Host);
        using var source = new Tensor(other, 4, 3);
        using var destination = new Tensor(Device, 4, 3);
        var e = Assert.Throws<NeuronArgumentException>(() => destination.CopyRowsFrom(source, 0, 0, 4));
        Assert.That(e!.Status, Is.EqualTo(NeuronStatus.ContextMismatch));
    }

    [Test]
    public void OperationsWithWrongShapesRaiseShapeMismatch()
    {
        using var input = new Tensor(Device, 8, 3);
        using var weight = new Tensor(Device, 4, 2);
        using var output = new Tensor(Device, 8, 2);
        var e = Assert.Throws<ShapeMismatchException>(() => NativeOps.LinearForward(input, weight, null, output));
        Assert.That(e!.Message, Does.StartWith("nrn_linear_forward: ").And.Contain("8x3").And.Contain("4x2"));
    }

    [Test]
    public void EveryMethodOfADisposedTensorThrowsObjectDisposed()
    {
        var tensor = new Tensor(Device, 4, 2);
        using var other = new Tensor(Device, 4, 2);
        tensor.Dispose();
        tensor.Dispose();

        Assert.That(tensor.IsDisposed, Is.True);
        Assert.Multiple(() =>
        {
            Assert.Throws<ObjectDisposedException>(() => tensor.ToArray());
            Assert.Throws<ObjectDisposedException>(() => tensor.ToArray2D());
            Assert.Throws<ObjectDisposedException>(() => tensor.CopyTo(new float[8]));
            Assert.Throws<ObjectDisposedException>(() => tensor.CopyFrom(new float[8]));
            Assert.Throws<ObjectDisposedException>(() => tensor.CopyFrom(other));
            Assert.Throws<ObjectDisposedException>(() => other.CopyFrom(tensor));
            Assert.Throws<ObjectDisposedException>(() => tensor.Fill(1f));
            Assert.Throws<ObjectDisposedException>(() => tensor.FillUniform(0f, 1f, 1));
            Assert.Throws<ObjectDisposedException>(() => tensor.FillNormal(0f, 1f, 1));
            Assert.Throws<ObjectDisposedException>(() => tensor.SliceRows(0, 1));
            Assert.Throws<ObjectDisposedException>(() => tensor.CopyRowsFrom(other, 0, 0, 1));
            Assert.Throws<ObjectDisposedException>(() => other.CopyRowsFrom(tensor, 0, 0, 1));
            Assert.Throws<ObjectDisposedException>(() => NativeOps.SgdUpdate(other, tensor, 0.1f));
            Assert.Throws<ObjectDisposedException>(() => NativeOps.LinearForward(other, tensor, null, other));
        });
        Assert.That(tensor.Shape, Is.EqualTo(new long[] { 4, 2 }), "The shape stays readable after disposal.");
        Assert.That(tensor.ToString(), Does.Contain("disposed"));
    }
}
