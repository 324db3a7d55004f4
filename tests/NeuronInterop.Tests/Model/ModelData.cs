using NeuronInterop.Modules;

namespace NeuronInterop.Tests.Model;

/// <summary>Random data and conversions for the object-model tests.</summary>
internal static class ModelData
{
    /// <summary>Layer shapes (batch, in, out): 1, primes, sizes that are not multiples of a tile, and one of a few hundred thousand elements.</summary>
    public static readonly object[] Shapes =
    {
        new object[] { 1, 1, 1 },
        new object[] { 3, 5, 7 },
        new object[] { 17, 13, 1 },
        new object[] { 1, 31, 2 },
        new object[] { 33, 64, 65 },
        new object[] { 128, 127, 129 },
        new object[] { 257, 96, 17 },
        new object[] { 513, 300, 257 },
    };

    /// <summary>A rows × columns array uniform in [low, high) from <paramref name="seed"/>.</summary>
    public static float[,] Uniform(int rows, int columns, int seed, float low = -1f, float high = 1f)
    {
        var random = new Random(seed);
        var values = new float[rows, columns];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                values[r, c] = low + (high - low) * random.NextSingle();
            }
        }
        return values;
    }

    /// <summary>
    /// A learnable problem: inputs uniform in [−1, 1) from <paramref name="seed"/>, targets a random linear map of
    /// them (from <c>seed + 1</c>) plus a per-column offset, so that a layer can fit them exactly.
    /// </summary>
    public static (float[,] Data, float[,] Target) LinearProblem(int rows, int inSize, int outSize, int seed)
    {
        float[,] data = Uniform(rows, inSize, seed);
        float[,] map = Uniform(inSize, outSize, seed + 1);
        var target = new float[rows, outSize];
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < outSize; o++)
            {
                double sum = 0.5 * o - 0.25;
                for (int i = 0; i < inSize; i++) sum += data[r, i] * map[i, o];
                target[r, o] = (float)sum;
            }
        }
        return (data, target);
    }

    /// <summary>Row-major values of a 2-D array, flattened.</summary>
    public static float[] Flat(float[,] values)
    {
        var flat = new float[values.Length];
        int i = 0;
        foreach (float v in values)
        {
            flat[i++] = v;
        }
        return flat;
    }

    public static double[] ToDouble(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = values[i];
        }
        return result;
    }

    public static double[] ToDouble(float[,] values) => ToDouble(Flat(values));

    /// <summary>A copy of the layer's parameters (W, then b when present).</summary>
    public static float[] Snapshot(Linear layer) =>
        layer.B is null ? layer.W.ToArray() : layer.W.ToArray().Concat(layer.B.ToArray()).ToArray();

    /// <summary>Sets a layer's parameters from the reference trainer's starting point.</summary>
    public static void SetParameters(Linear layer, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias)
    {
        layer.W.CopyFrom(weight);
        layer.B?.CopyFrom(bias);
    }
}
