using System.Diagnostics;
using System.Globalization;

namespace NeuronInterop.Benchmarks;

/// <summary>How long to warm up and how often to repeat one measurement.</summary>
internal sealed record TimingPlan(double WarmupSeconds, int MinWarmupUnits, double MinRepeatSeconds, int Repeats, long MaxUnitsPerRepeat)
{
    public static TimingPlan For(BenchmarkOptions options)
    {
        var repeats = options.Repeats ?? (options.Quick ? 3 : 7);
        var minRepeat = options.MinRepeatSeconds ?? (options.Quick ? 0.0 : 0.15);
        if (repeats < 1)
            throw new ArgumentOutOfRangeException(nameof(options), repeats, "Repeats must be at least 1.");
        if (!double.IsFinite(minRepeat) || minRepeat < 0)
            throw new ArgumentOutOfRangeException(nameof(options), minRepeat, "MinRepeatSeconds must be a finite, non-negative number.");
        return options.Quick
            ? new TimingPlan(0.0, 1, minRepeat, repeats, 1_000_000)
            : new TimingPlan(0.2, 2, minRepeat, repeats, 1_000_000);
    }

    /// <summary>
    /// The plan in words, for the report: "warm-up ≥ 0.2 s, then 7 repeats of ≥ 0.15 s" (a unit is one
    /// enqueued call of the measured variant).
    /// </summary>
    public string Describe()
    {
        string warmup = WarmupSeconds > 0
            ? string.Create(CultureInfo.InvariantCulture, $"warm-up ≥ {WarmupSeconds} s")
            : $"{MinWarmupUnits} unit{(MinWarmupUnits == 1 ? "" : "s")} of warm-up";
        string each = MinRepeatSeconds > 0
            ? string.Create(CultureInfo.InvariantCulture, $"≥ {MinRepeatSeconds} s")
            : "one unit";
        return $"{warmup}, then {Repeats} repeat{(Repeats == 1 ? "" : "s")} of {each}";
    }
}

/// <summary>Timings of one measurement: seconds per step, median and spread over the repeats.</summary>
internal sealed record Timing(double MedianSecondsPerStep, double MinSecondsPerStep, double MaxSecondsPerStep, int Repeats, long StepsPerRepeat);

/// <summary>
/// Times enqueued device work with a host stopwatch: the device is synchronised before the clock starts
/// and before it stops, so every timed step has finished.
/// </summary>
internal static class StepTimer
{
    /// <param name="runUnit">Enqueues one unit of work and returns the number of training steps it holds.</param>
    /// <param name="synchronize">Waits until the device has finished all enqueued work.</param>
    /// <param name="plan">Warm-up, repeats and least time per repeat.</param>
    public static Timing Measure(Func<long> runUnit, Action synchronize, TimingPlan plan)
    {
        // Warm-up: module load, first-use allocations and caches stay out of the numbers.
        var clock = Stopwatch.StartNew();
        var warmupUnits = 0;
        while (warmupUnits < plan.MinWarmupUnits || clock.Elapsed.TotalSeconds < plan.WarmupSeconds)
        {
            runUnit();
            warmupUnits++;
        }
        synchronize();

        // Calibrate: enough units per repeat for the repeat to last at least MinRepeatSeconds.
        clock.Restart();
        runUnit();
        synchronize();
        var unitSeconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        var units = (long)Math.Clamp(Math.Ceiling(plan.MinRepeatSeconds / unitSeconds), 1, plan.MaxUnitsPerRepeat);

        var perStep = new double[plan.Repeats];
        long steps = 0;
        for (var r = 0; r < plan.Repeats; r++)
        {
            steps = 0;
            clock.Restart();
            for (long u = 0; u < units; u++)
                steps += runUnit();
            synchronize();
            perStep[r] = clock.Elapsed.TotalSeconds / steps;
        }

        return new Timing(Median(perStep), perStep.Min(), perStep.Max(), plan.Repeats, steps);
    }

    /// <summary>The median of a non-empty set of values (the mean of the two middle ones for an even count).</summary>
    public static double Median(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0)
            throw new ArgumentException("The median of no values is undefined.", nameof(values));
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
    }
}
