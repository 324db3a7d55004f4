using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NeuronInterop.Cost;
using NeuronInterop.Modules;

namespace NeuronInterop.Handlers;

/// <summary>Argument checks and helpers shared by <see cref="Trainer"/>, <see cref="Validator"/> and <see cref="Calculator"/>.</summary>
internal static class HandlerChecks
{
    public static void CheckModule(Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        module.ThrowIfDisposed();
    }

    /// <summary>Binds a handler's cost to its module's device, or refuses a cost bound to another device.</summary>
    public static void BindCost(MseCost cost, Module module)
    {
        ArgumentNullException.ThrowIfNull(cost);
        cost.Bind(module.Device, $"the module {module.Describe()}", nameof(cost));
    }

    /// <summary>Checks host data (and targets, when given) against each other and against the module's feature counts.</summary>
    public static void CheckHost(Module module, float[,] data, float[,]? target, string dataName = "data", string targetName = "target")
    {
        ArgumentNullException.ThrowIfNull(data, dataName);
        if (data.GetLength(0) == 0 || data.GetLength(1) == 0)
        {
            throw new ArgumentException($"The {dataName} is empty ([{data.GetLength(0)}x{data.GetLength(1)}]).", dataName);
        }
        CheckFeatures(module, data.GetLength(1), dataName, input: true);
        if (target is null)
        {
            return;
        }
        if (target.GetLength(0) != data.GetLength(0))
        {
            throw new ShapeMismatchException(
                $"The {dataName} has {data.GetLength(0)} rows, the {targetName} {target.GetLength(0)}.", targetName);
        }
        if (target.GetLength(1) == 0)
        {
            throw new ArgumentException($"The {targetName} has no columns.", targetName);
        }
        CheckFeatures(module, target.GetLength(1), targetName, input: false);
        // Training and validation only: one NaN or infinity would turn every parameter trained on
        // it, or the error, into NaN without a word. (A Calculator's NaN in is a NaN out.)
        CheckFinite(data, dataName);
        CheckFinite(target, targetName);
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first NaN or infinite value of <paramref name="array"/>.</summary>
    public static void CheckFinite(float[,] array, string name)
    {
        // In runs of rows of at most Array.MaxLength values: a 2-D array may hold more than one span.
        long rows = array.GetLongLength(0);
        int columns = array.GetLength(1);
        long rowsAtATime = Math.Max(1, Array.MaxLength / columns);
        for (long first = 0; first < rows; first += rowsAtATime)
        {
            ReadOnlySpan<float> values = Rows(array, first, Math.Min(rowsAtATime, rows - first));
            int index = FirstNonFinite(values);
            if (index >= 0)
            {
                throw new ArgumentException(
                    $"The {name} holds {values[index]} at row {first + index / columns}, column {index % columns} (counting from 0): " +
                    "training and validation take finite numbers only.", name);
            }
        }
    }

    /// <summary>The index of the first NaN or infinite value, or -1.</summary>
    private static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        // x·0 is NaN exactly when x is NaN or infinite, and a sum holding a NaN stays NaN: one
        // vector pass, bound by memory bandwidth, tells whether to look for it.
        var sum = Vector<float>.Zero;
        int vectors = Vector.IsHardwareAccelerated ? values.Length / Vector<float>.Count : 0;
        for (int v = 0; v < vectors; v++)
        {
            sum += new Vector<float>(values.Slice(v * Vector<float>.Count)) * Vector<float>.Zero;
        }
        int start = Vector.EqualsAll(sum, sum) ? vectors * Vector<float>.Count : 0;
        for (int i = start; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>Checks device data (and targets, when given): alive, on the module's device, rows × features, matching rows.</summary>
    public static void CheckDevice(Module module, Tensor data, Tensor? target, string dataName = "data", string targetName = "target")
    {
        module.CheckOnDevice(data, dataName);
        if (data.Rank != 2)
        {
            throw new ShapeMismatchException($"The {dataName} must be [rows x features], got {Module.ShapeText(data)}.", dataName);
        }
        CheckFeatures(module, data.Shape[1], dataName, input: true);
        if (target is null)
        {
            return;
        }
        module.CheckOnDevice(target, targetName);
        if (target.Rank != 2 || target.Shape[0] != data.Shape[0])
        {
            throw new ShapeMismatchException(
                $"The {targetName} must be [{data.Shape[0]} x features], as many rows as the {dataName} {Module.ShapeText(data)}; got {Module.ShapeText(target)}.", targetName);
        }
        CheckFeatures(module, target.Shape[1], targetName, input: false);
    }

    public static void CheckBatchSize(int batchSize, string name = "batchSize")
    {
        if (batchSize <= 0)
        {
            throw new ArgumentOutOfRangeException(name, batchSize, "The batch size must be at least 1.");
        }
    }

    /// <summary>
    /// The rows a host call uploads at a time: <paramref name="macroBatchSize"/>, by default
    /// <see cref="Trainer.DefaultMacroBatchSize"/> or <paramref name="batchSize"/> when that is larger. Each upload (and
    /// download) of <paramref name="widestRow"/> values a row is one copy of at most <see cref="Array.MaxLength"/> values,
    /// which a default takes fewer rows to keep to.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="macroBatchSize"/> is smaller than <paramref name="batchSize"/>, or its rows hold more values than one copy.
    /// </exception>
    /// <exception cref="ArgumentException">A batch's rows hold more values than one copy.</exception>
    public static int MacroBatchRows(int? macroBatchSize, int batchSize, long widestRow)
    {
        long mostRows = Array.MaxLength / widestRow;
        if (batchSize > mostRows)
        {
            throw new ArgumentException(
                $"A batch of {batchSize} rows of {widestRow} values holds more than one copy from host memory takes " +
                $"({Array.MaxLength} values): use batches of at most {mostRows} rows.", nameof(batchSize));
        }
        int rows = macroBatchSize ?? (int)Math.Min(Math.Max(Trainer.DefaultMacroBatchSize, batchSize), mostRows);
        if (rows < batchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(macroBatchSize), rows, $"The macro-batch size must be at least the batch size ({batchSize}).");
        }
        if (rows > mostRows)
        {
            throw new ArgumentOutOfRangeException(nameof(macroBatchSize), rows,
                $"A macro-batch of {rows} rows of {widestRow} values holds more than one copy from host memory takes " +
                $"({Array.MaxLength} values): give at most {mostRows} rows.");
        }
        return rows;
    }

    /// <summary>
    /// The rows [<paramref name="firstRow"/>, <paramref name="firstRow"/> + <paramref name="rowCount"/>) of a 2-D array as one
    /// row-major span: of at most <see cref="Array.MaxLength"/> elements (<see cref="MacroBatchRows"/>), from an array of any size
    /// (a 2-D array may hold more elements than a span).
    /// </summary>
    public static Span<float> WritableRows(float[,] array, long firstRow, long rowCount)
    {
        long columns = array.GetLength(1);
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        ArgumentOutOfRangeException.ThrowIfNegative(rowCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(firstRow + rowCount, array.GetLongLength(0), nameof(rowCount));
        // The data reference, not array[0, 0]: an array's lower bounds need not be 0.
        ref float first = ref Unsafe.Add(
            ref Unsafe.As<byte, float>(ref MemoryMarshal.GetArrayDataReference(array)), (nint)(firstRow * columns));
        return MemoryMarshal.CreateSpan(ref first, checked((int)(rowCount * columns)));
    }

    /// <summary>The rows of a 2-D array as one row-major span, to read.</summary>
    public static ReadOnlySpan<float> Rows(float[,] array, long firstRow, long rowCount) => WritableRows(array, firstRow, rowCount);

    private static void CheckFeatures(Module module, long features, string name, bool input)
    {
        int? expected = input ? module.InputFeatures : module.OutputFeatures;
        if (expected is { } count && count != features)
        {
            throw new ShapeMismatchException(
                $"{module.Describe()} {(input ? "takes" : "produces")} {count} features, the {name} has {features} columns.", name);
        }
    }
}
