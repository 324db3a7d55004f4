using NUnit.Framework;

namespace NeuronInterop.Tests.Bindings;

/// <summary>
/// Copies of a tensor larger than a .NET array holds. The limit of a copy to a host array is the managed layer's own,
/// whatever the device, so it is checked on the host alone: the host leaves a new tensor's memory unwritten (so never
/// resident), where the CUDA emulator fills every allocation. A copy between devices goes through no array.
/// </summary>
public sealed class TensorArrayLimitTests
{
    [Test]
    public void ATensorLargerThanAnArrayIsRefusedWholeAndCopiedInRowSlices()
    {
        // 46,341² elements, just over Array.MaxLength: 8 GB of address space, of which only the slice is written.
        const long side = 46_341;
        using var tensor = Tensor.Unfilled(Device.Host, side, side);

        Assert.Multiple(() =>
        {
            Assert.That(() => tensor.ToArray(), Throws.InvalidOperationException
                .With.Message.Contains($"[{side}x{side}] has {side * side} elements, more than a .NET array holds; copy it in row slices"));
            Assert.That(() => tensor.ToArray2D(), Throws.InvalidOperationException.With.Message.Contains("more than a .NET array holds"));
        });

        using Tensor rows = tensor.SliceRows(side - 2, 2);
        float[] values = Enumerable.Range(0, (int)(2 * side)).Select(i => (float)i).ToArray();
        rows.CopyFrom(values);
        Assert.That(rows.ToArray(), Is.EqualTo(values), "the last two rows, through a view");
    }

    [Test]
    public void ATensorLargerThanAnArrayIsCopiedWholeToAnotherDevice()
    {
        // 46,341² elements on each of two host devices: the copy makes the destination's 8 GB resident.
        const long side = 46_341;
        using Device other = Device.CreateOwned(BackendKind.Host);
        using var source = Tensor.Unfilled(Device.Host, side, side);
        using var destination = Tensor.Unfilled(other, side, side);
        long[] marked = [0, side / 2, side - 1];
        foreach (long row in marked)
        {
            using Tensor view = source.SliceRows(row, 1);
            view.CopyFrom(RowValues(row));
        }

        destination.CopyFrom(source);

        Assert.Multiple(() =>
        {
            foreach (long row in marked)
            {
                using Tensor view = destination.SliceRows(row, 1);
                Assert.That(view.ToArray(), Is.EqualTo(RowValues(row)), $"row {row} on the other device");
            }
        });
    }

    private static float[] RowValues(long row) => Enumerable.Range(0, 46_341).Select(i => row + i * 0.5f).ToArray();
}
