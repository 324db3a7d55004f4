using NeuronInterop.Cost;
using NeuronInterop.Handlers;
using NeuronInterop.Modules;
using NeuronInterop.Optimizers;
using NUnit.Framework;

namespace NeuronInterop.Tests.Model;

/// <summary>
/// Host data past the size of a span: a 2-D .NET array may hold more than <see cref="Array.MaxLength"/> elements, where one
/// copy to or from a device (a span) may not. The limits are the managed layer's own, whatever the device, so they are
/// checked on the host alone. An array of 46,341² floats is 8 GB of address space, none of it resident until written.
/// </summary>
public sealed class HostDataLimitTests
{
    private const int Side = 46_341;  // Side² is just over int.MaxValue

    [Test]
    public void RowsAreReadAndWrittenPastTheFirstTwoBillionElements()
    {
        var array = new float[Side, Side];
        array[Side - 1, 7] = 3f;

        Span<float> last = HandlerChecks.WritableRows(array, Side - 1, 1);
        last[8] = 4f;
        int length = last.Length;

        Assert.Multiple(() =>
        {
            Assert.That(length, Is.EqualTo(Side));
            Assert.That(HandlerChecks.Rows(array, Side - 1, 1)[7], Is.EqualTo(3f), "read through the span");
            Assert.That(array[Side - 1, 8], Is.EqualTo(4f), "written through the span");
            Assert.That(() => HandlerChecks.WritableRows(array, Side - 1, 2), Throws.InstanceOf<ArgumentOutOfRangeException>());
        });
    }

    [Test]
    public void CalculatingOverDataOfMoreThanTwoBillionElementsReadsEveryRow()
    {
        // Row r sums to r (one page of each row resident, 190 MB): a row skipped, repeated or misplaced shows.
        float[,] data = Diagonal(row => row);
        using var layer = new Linear(Side, 1, device: Device.Host);
        layer.W.Fill(1f);
        layer.B!.Fill(0.5f);

        float[,] output = new Calculator(layer, batchSize: 4096).CalcFromHost(data, macroBatchSize: 8192);

        float[] expected = Enumerable.Range(0, Side).Select(row => row + 0.5f).ToArray();
        Assert.That(Enumerable.Range(0, Side).Select(row => output[row, 0]), Is.EqualTo(expected));
    }

    [Test]
    public void ValidatingOverDataOfMoreThanTwoBillionElementsReadsEveryRow()
    {
        // Row r sums to r mod 7: a row skipped or counted twice moves the mean by more than the tolerance.
        float[,] data = Diagonal(row => row % 7);
        var target = new float[Side, 1];
        using var layer = new Linear(Side, 1, device: Device.Host);
        layer.W.Fill(1f);
        layer.B!.Fill(0.5f);
        using var cost = new MseCost();

        double error = new Validator(layer, cost, batchSize: 4096).ValidateFromHost(data, target, macroBatchSize: 8192);

        // Outputs r mod 7 + 0.5 against targets of 0: Σ(y − t)² / 2 per row.
        double expected = Enumerable.Range(0, Side).Sum(row => (row % 7 + 0.5) * (row % 7 + 0.5)) / (2.0 * Side);
        Assert.That(error, Is.EqualTo(expected).Within(1e-6).Percent);
    }

    [Test]
    public void ANonFiniteValuePastTheFirstTwoBillionElementsIsNamed()
    {
        var data = new float[Side, Side];
        data[Side - 1, Side - 2] = float.NaN;
        var target = new float[Side, 1];
        using var layer = new Linear(Side, 1, device: Device.Host);
        using var cost = new MseCost();
        var sgd = new Sgd(learnRate: 0.1f);
        sgd.SetupOn(layer);
        using var trainer = new Trainer(layer, cost, sgd, batchSize: 4096);

        Assert.That(() => trainer.TrainFromHost(data, target), Throws.ArgumentException
            .With.Message.Contains($"The data holds NaN at row {Side - 1}, column {Side - 2}"));
    }

    [Test]
    public void AMacroBatchIsKeptToWhatOneCopyTakes()
    {
        const int wide = 300_000;  // Array.MaxLength / wide = 7158 rows
        int most = Array.MaxLength / wide;

        Assert.Multiple(() =>
        {
            Assert.That(HandlerChecks.MacroBatchRows(null, 128, wide), Is.EqualTo(most), "the default, fewer rows");
            Assert.That(HandlerChecks.MacroBatchRows(null, 128, 1000), Is.EqualTo(Trainer.DefaultMacroBatchSize), "the default");
            Assert.That(HandlerChecks.MacroBatchRows(most, 128, wide), Is.EqualTo(most), "as many rows as fit");
            Assert.That(() => HandlerChecks.MacroBatchRows(most + 1, 128, wide), Throws.InstanceOf<ArgumentOutOfRangeException>()
                .With.Message.Contains($"give at most {most} rows"));
            Assert.That(() => HandlerChecks.MacroBatchRows(null, most + 1, wide), Throws.ArgumentException
                .With.Message.Contains($"use batches of at most {most} rows"));
        });
    }

    /// <summary>A Side × Side array, zero but for <paramref name="value"/>(r) at [r, r].</summary>
    private static float[,] Diagonal(Func<int, float> value)
    {
        var data = new float[Side, Side];
        for (int row = 0; row < Side; row++)
            data[row, row] = value(row);
        return data;
    }
}
