namespace NeuronInterop.Reference;

/// <summary>The tutorial's data helpers.</summary>
public static class TutorialData
{
    /// <summary>
    /// <c>np.linspace(start, stop, count, dtype=np.float32)</c>: evenly spaced values computed in
    /// double precision (<c>i·step + start</c>, the last one exactly <paramref name="stop"/>) and
    /// rounded to float32.
    /// </summary>
    /// <param name="start">The first value.</param>
    /// <param name="stop">The last value.</param>
    /// <param name="count">The number of values, at least 0.</param>
    /// <returns>The values.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    public static float[] Linspace(float start, float stop, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var values = new float[count];
        if (count == 0)
        {
            return values;
        }

        double first = start;
        double step = count > 1 ? (stop - first) / (count - 1) : 0.0;
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)(i * step + first);
        }

        if (count > 1)
        {
            values[count - 1] = stop;
        }
        return values;
    }

    /// <summary>The tutorial's target function <c>2x + 3</c>, in float32 like <c>f(x).astype(np.float32)</c>.</summary>
    /// <param name="x">The input.</param>
    /// <returns><c>2x + 3</c>.</returns>
    public static float Line(float x) => 2f * x + 3f;
}
