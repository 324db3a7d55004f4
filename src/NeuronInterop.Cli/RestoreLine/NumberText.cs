using System.Globalization;

namespace NeuronInterop.Cli.RestoreLine;

/// <summary>
/// How restore-line writes a number for people (the line, and w and b in the table and the figures),
/// whatever the system's locale: fixed point with up to 4 decimals from 0.001 to below 1e6 ("2", "2.0021"),
/// else 4 significant digits and an exponent ("1E-05", "-2.5E+30"), so that a tiny value does not read
/// as 0 nor a huge one as 31 digits; NaN, Infinity and -Infinity as summary.json writes them.
/// </summary>
internal static class NumberText
{
    public static string Format(float value)
    {
        if (!float.IsFinite(value))
            return value.ToString(CultureInfo.InvariantCulture);
        float magnitude = Math.Abs(value);
        if (magnitude == 0)
            return "0";   // not "-0"
        string format = magnitude is >= 1e-3f and < 1e6f ? "0.####" : "0.###E+00";
        return value.ToString(format, CultureInfo.InvariantCulture);
    }

    /// <summary>A count and its noun, singular for one: "1 step", "500 steps", "8 samples".</summary>
    public static string Count(int count, string noun) =>
        string.Create(CultureInfo.InvariantCulture, $"{count} {noun}{(count == 1 ? "" : "s")}");
}
