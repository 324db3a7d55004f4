using System.Globalization;
using System.Text;
using NUnit.Framework;

namespace NeuronInterop.Tests.Infrastructure;

/// <summary>
/// Element-wise comparison with |got − ref| ≤ atol + rtol·|ref|; a failure lists the first
/// mismatches and the largest error.
/// </summary>
public static class Tolerance
{
    private const int MismatchesShown = 10;

    /// <summary>Asserts that <paramref name="got"/> matches the double-precision reference <paramref name="expected"/>.</summary>
    public static void AssertClose(ReadOnlySpan<float> got, ReadOnlySpan<double> expected, double atol, double rtol, string what)
    {
        if (got.Length != expected.Length)
        {
            Assert.Fail($"{what}: got {got.Length} values, expected {expected.Length}.");
        }

        var report = new Report(what, atol, rtol);
        for (int i = 0; i < got.Length; i++)
        {
            report.Check(i, got[i], expected[i]);
        }

        report.AssertNoMismatch(got.Length);
    }

    /// <summary>Asserts that <paramref name="got"/> matches the single-precision reference <paramref name="expected"/>.</summary>
    public static void AssertClose(ReadOnlySpan<float> got, ReadOnlySpan<float> expected, double atol, double rtol, string what)
    {
        var widened = new double[expected.Length];
        for (int i = 0; i < expected.Length; i++)
        {
            widened[i] = expected[i];
        }

        AssertClose(got, widened, atol, rtol, what);
    }

    private sealed class Report(string what, double atol, double rtol)
    {
        private readonly StringBuilder _first = new();
        private int _mismatches;
        private double _largestError = -1;
        private int _largestIndex = -1;
        private double _largestGot;
        private double _largestExpected;

        public void Check(int index, float got, double expected)
        {
            double error = Math.Abs(got - expected);
            bool close = error <= atol + rtol * Math.Abs(expected) || (double.IsNaN(expected) && float.IsNaN(got));
            if (!(error <= _largestError) && !double.IsNaN(expected))
            {
                _largestError = double.IsNaN(error) ? double.PositiveInfinity : error;
                _largestIndex = index;
                _largestGot = got;
                _largestExpected = expected;
            }

            if (close)
            {
                return;
            }

            if (_mismatches < MismatchesShown)
            {
                _first.AppendLine(CultureInfo.InvariantCulture,
                    $"  [{index}] got {got:R}, expected {expected:R}, |error| {error:G6} > {atol + rtol * Math.Abs(expected):G6}");
            }

            _mismatches++;
        }

        public void AssertNoMismatch(int count)
        {
            if (_mismatches == 0)
            {
                return;
            }

            Assert.Fail(string.Create(CultureInfo.InvariantCulture,
                $"{what}: {_mismatches} of {count} values differ beyond atol {atol:G6} + rtol {rtol:G6}·|ref|. First mismatches:\n{_first}" +
                $"Largest error {_largestError:G6} at [{_largestIndex}]: got {_largestGot:R}, expected {_largestExpected:R}."));
        }
    }
}
