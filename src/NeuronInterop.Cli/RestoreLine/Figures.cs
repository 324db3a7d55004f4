using System.Globalization;
using ScottPlot;
using SkiaSharp;

namespace NeuronInterop.Cli.RestoreLine;

/// <summary>A written figure.</summary>
/// <param name="TutorialFigure">The tutorial's number for the picture this one reproduces; null for one it does not draw.</param>
internal sealed record FigureFile(int? TutorialFigure, string FileName, string Title, int Width, int Height);

/// <summary>
/// The tutorial's figures as PNG files, rendered headless with ScottPlot, named and titled with the tutorial's
/// numbers (its Figures 3 to 8: Figures 1 and 2 are diagrams), and a learning curve the tutorial does not draw.
/// Single plots are <see cref="SingleWidth"/>×<see cref="SingleHeight"/> pixels; the side-by-side ones (the tutorial's
/// <c>showSubplots</c>) are <see cref="PairWidth"/>×<see cref="PairHeight"/> pixels with a title band on top.
/// </summary>
internal static class Figures
{
    public const int SingleWidth = 800;
    public const int SingleHeight = 600;
    public const int PairWidth = 1300;
    public const int PairHeight = 600;
    private const int TitleBand = 48;
    private const float SingleTitleSize = 18;
    private const float PairTitleSize = 22;
    private const float TitleMargin = 16;

    static Figures() => FigureFonts.UseInPlots();

    /// <summary>The tutorial's Figure 3.</summary>
    public const string LinearFunction = "fig3-linear-function.png";
    /// <summary>The tutorial's Figure 4: <c>trainNeuron(200)</c>.</summary>
    public const string HandMadeShortRun = "fig4-hand-made-short-run.png";
    /// <summary>The tutorial's Figure 5: <c>trainNeuron(500)</c>.</summary>
    public const string HandMadeLongRun = "fig5-hand-made-long-run.png";
    /// <summary>The tutorial's Figure 6: the untrained pseudo-neuron.</summary>
    public const string LibraryUntrained = "fig6-library-untrained.png";
    /// <summary>The tutorial's Figure 7: both neurons after <c>trainBoth(500)</c>.</summary>
    public const string BothTrained = "fig7-both-trained.png";
    /// <summary>The tutorial's Figure 8: the neuron without bias.</summary>
    public const string NoBias = "fig8-no-bias.png";
    /// <summary>Not in the tutorial: each step's batch error.</summary>
    public const string LearningCurve = "learning-curve.png";

    /// <summary>Every figure's file, in order.</summary>
    public static readonly IReadOnlyList<string> FileNames =
        [LinearFunction, HandMadeShortRun, HandMadeLongRun, LibraryUntrained, BothTrained, NoBias, LearningCurve];

    /// <summary>
    /// The same figures' files as earlier versions numbered them, 1 to 7 in the order written. No run writes them; a
    /// run removes them from its folder, where fig3 to fig7 would otherwise also name other pictures than the tutorial's.
    /// </summary>
    public static readonly IReadOnlyList<string> EarlierFileNames =
    [
        "fig1-linear-function.png", "fig2-hand-made-short-run.png", "fig3-hand-made-long-run.png",
        "fig4-library-untrained.png", "fig5-both-trained.png", "fig6-no-bias.png", "fig7-learning-curve.png",
    ];

    /// <summary>
    /// The files <see cref="WriteAll"/> writes for a run of <paramref name="options"/>: every figure, or with
    /// <see cref="RestoreLineOptions.NoBiasOnly"/> the function, the no-bias figure and the learning curve.
    /// </summary>
    public static IReadOnlyList<string> FileNamesFor(RestoreLineOptions options) =>
        options.NoBiasOnly ? [LinearFunction, NoBias, LearningCurve] : FileNames;

    private static readonly Color TrueColor = Colors.Black;
    private static readonly Color HandMadeColor = Colors.Orange;
    private static readonly Color LibraryColor = Colors.Magenta;

    /// <summary>Writes every figure the result has data for; returns them in order.</summary>
    public static IReadOnlyList<FigureFile> WriteAll(RestoreLineResult result, string directory)
    {
        // ScottPlot writes tick labels in the current culture ("2,5" under de-DE): the figures read
        // the same on every machine, as the table and summary.json do.
        var culture = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        try
        {
            return Write(result, directory);
        }
        finally
        {
            CultureInfo.CurrentCulture = culture;
        }
    }

    private static IReadOnlyList<FigureFile> Write(RestoreLineResult result, string directory)
    {
        var files = new List<FigureFile>();
        string line = result.Options.LineText;

        files.Add(Single(directory, 3, LinearFunction, $"The linear function {line}",
            LinePlot(result, null, null, null, null)));

        if (result.Find(RunKind.Short) is { } shortRun)
            files.Add(BeforeAfter(directory, 4, HandMadeShortRun, result, shortRun,
                $"Hand-made neuron before and after training ({RunResult.StepCount(shortRun.Steps)})"));

        if (result.Find(RunKind.Long) is { } longRun)
        {
            files.Add(BeforeAfter(directory, 5, HandMadeLongRun, result, longRun,
                $"Hand-made neuron before and after training ({RunResult.StepCount(longRun.Steps)})"));
            string untrained = Parameters(RestoreLineOptions.InitialWeight, RestoreLineOptions.InitialBias, useBias: true);
            files.Add(Single(directory, 6, LibraryUntrained,
                $"Untrained library neuron on {result.Device} ({untrained}) against {line}",
                LinePlot(result, longRun.Library.PredictionsBefore, "Predicted values", HandMadeColor, null)));
            files.Add(Pair(directory, 7, BothTrained, $"Both neurons after {RunResult.StepCount(longRun.Steps)} against {line}",
                LinePlot(result, longRun.HandMade.PredictionsAfter, "Neuron", HandMadeColor,
                    $"Hand-made: {Parameters(longRun.HandMade.W, longRun.HandMade.B, useBias: true)}"),
                LinePlot(result, longRun.Library.PredictionsAfter, "NeuronInterop neuron", LibraryColor,
                    $"Library ({result.Device}): {Parameters(longRun.Library.W, longRun.Library.B, useBias: true)}")));
        }

        var noBias = result.Find(RunKind.NoBias)!;
        files.Add(BeforeAfter(directory, 8, NoBias, result, noBias,
            $"Neuron without bias before and after training ({RunResult.StepCount(noBias.Steps)})"));

        var curveRun = result.Find(RunKind.Long) ?? noBias;
        files.Add(Single(directory, null, LearningCurve,
            NotFiniteFrom(curveRun) is int step
                ? $"Learning curve: {curveRun.Description}, batch error not finite from step {step}"
                : $"Learning curve: batch error per step, {curveRun.Description}",
            CurvePlot(curveRun, result.Device)));
        return files;
    }

    private static FigureFile BeforeAfter(string directory, int tutorialFigure, string fileName, RestoreLineResult result,
        RunResult run, string title)
    {
        var neuron = run.HandMade;
        return Pair(directory, tutorialFigure, fileName, title,
            LinePlot(result, neuron.PredictionsBefore, "Net results before training", HandMadeColor,
                $"Before training: {Parameters(RestoreLineOptions.InitialWeight, RestoreLineOptions.InitialBias, run.UseBias)}"),
            LinePlot(result, neuron.PredictionsAfter, "Net results after training", HandMadeColor,
                $"After {RunResult.StepCount(run.Steps)}: {Parameters(neuron.W, neuron.B, run.UseBias)}"));
    }

    /// <summary>A neuron's w and b as the figures label them: "w = 2.0021, b = 2.9987", or "w = 2.0021 (no bias)".</summary>
    public static string Parameters(float w, float b, bool useBias) =>
        useBias ? $"w = {NumberText.Format(w)}, b = {NumberText.Format(b)}" : $"w = {NumberText.Format(w)} (no bias)";

    /// <summary>The tutorial's <c>show</c>: the true values as a thick black line, a prediction over it.</summary>
    private static Plot LinePlot(RestoreLineResult result, float[]? predictions, string? label, Color? color, string? title)
    {
        var plot = new Plot();
        double[] xs = Array.ConvertAll(result.X, v => (double)v);
        var truth = plot.Add.ScatterLine(xs, Array.ConvertAll(result.Y, v => (double)v));
        truth.LineWidth = 5;
        truth.Color = TrueColor;
        truth.LegendText = "True values";
        if (predictions is not null)
        {
            var predicted = plot.Add.ScatterLine(xs, Array.ConvertAll(predictions, v => (double)v));
            predicted.LineWidth = 2;
            predicted.Color = color ?? HandMadeColor;
            predicted.LegendText = label ?? "Predicted values";
        }
        if (title is not null)
            plot.Title(title, size: 16);
        plot.XLabel("x");
        plot.YLabel("y");
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    /// <summary>
    /// Error per step of both neurons on a logarithmic axis. Signal plots (evenly spaced steps) draw
    /// more steps than pixel columns as each column's range, so that a run of millions of steps
    /// renders in the time and memory of a short one.
    /// </summary>
    private static Plot CurvePlot(RunResult run, string device)
    {
        var plot = new Plot();
        double zeroAt = ZeroErrorLog(run.HandMade.StepErrors, run.Library.StepErrors);
        bool anyZero = run.HandMade.StepErrors.Concat(run.Library.StepErrors).Any(e => e == 0f);
        (double low, double high)? drawn = null;
        foreach (var (errors, label, color, width, pattern) in new[]
        {
            (run.HandMade.StepErrors, "Hand-made neuron", HandMadeColor, 3f, LinePattern.Solid),
            (run.Library.StepErrors, $"Library neuron ({device})", LibraryColor, 1.5f, LinePattern.Dashed),
        })
        {
            double[]? logs = AddCurve(plot, errors, label, color, width, pattern, zeroAt);
            if (logs is { Length: > 0 })
                drawn = (Math.Min(drawn?.low ?? double.MaxValue, logs.Min()), Math.Max(drawn?.high ?? double.MinValue, logs.Max()));
        }
        // A diverged run's axis still spans every step, so that its curves are seen to stop.
        if (NotFiniteFrom(run) is not null)
            plot.Axes.SetLimitsX(1, Math.Max(2, run.Steps));

        var yTicks = new ScottPlot.TickGenerators.NumericManual();
        if (drawn is var (low, high))
        {
            foreach (var (position, label, major) in ErrorTicks(low, high, anyZero ? zeroAt : null))
            {
                if (major)
                    yTicks.AddMajor(position, label);
                else
                    yTicks.AddMinor(position);
            }
        }
        plot.Axes.Left.TickGenerator = yTicks;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.XLabel("step");
        plot.YLabel("batch error (log scale)");
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    /// <summary>
    /// The error axis's ticks, at log10 positions from <paramref name="low"/> to <paramref name="high"/> (what the curves
    /// span): over two powers of ten or more, the powers of ten, labelled "1e-3", with minor ticks at their multiples
    /// between; within less, the coarsest multiples of a power of ten (1, 2, 5, 10, 20, 50... hundredths of it) that
    /// give three labelled ticks, "2e-3" or "2.5e-3", so that the axis is never left without numbers. Where errors of
    /// exactly zero are drawn (<paramref name="zeroAt"/>, below the others: see <see cref="ZeroErrorLog"/>), the tick
    /// reads "0".
    /// </summary>
    internal static IReadOnlyList<(double Position, string Label, bool Major)> ErrorTicks(double low, double high, double? zeroAt = null)
    {
        if (zeroAt is double zero)
        {
            // The zeros' tick, then the others' above it (from a power of ten up: none between them).
            var above = high > zero ? ErrorTicks(Math.Max(low, zero + 1), high) : [];
            return [(zero, "0", true), .. above.Where(t => t.Position > zero + 0.5)];
        }
        var ticks = new List<(double, string, bool)>();
        int first = (int)Math.Floor(low), last = (int)Math.Ceiling(high);
        if (Math.Floor(high) - Math.Ceiling(low) >= 1)
        {
            for (int power = first; power <= last; power++)
            {
                if (power >= low && power <= high)
                    ticks.Add((power, $"1e{power}", true));
                for (int multiple = 2; multiple <= 9; multiple++)
                {
                    double position = power + Math.Log10(multiple);
                    if (position >= low && position <= high)
                        ticks.Add((position, "", false));
                }
            }
            return ticks;
        }
        // Steps of the mantissa, in hundredths: 1, 0.5, 0.2, 0.1, ..., 0.01.
        foreach (int step in new[] { 100, 50, 20, 10, 5, 2, 1 })
        {
            ticks.Clear();
            for (int power = first; power <= last; power++)
            {
                for (int hundredths = 100; hundredths < 1000; hundredths += step)
                {
                    double position = power + Math.Log10(hundredths / 100.0);
                    if (position >= low - 1e-12 && position <= high + 1e-12)
                        ticks.Add((position, FormattableString.Invariant($"{hundredths / 100.0:0.##}e{power}"), true));
                }
            }
            if (ticks.Count >= 3)
                return ticks;
        }
        // Narrower than a hundredth of the mantissa (a flat curve): its value.
        double value = Math.Pow(10, (low + high) / 2);
        return [((low + high) / 2, value.ToString("G4", System.Globalization.CultureInfo.InvariantCulture), true)];
    }

    /// <summary>
    /// One neuron's curve: the steps up to the first whose error is not finite (a diverged run overflows to
    /// infinity, then NaN), which the legend names.
    /// </summary>
    /// <returns>The log10 values drawn, or null when none is finite.</returns>
    private static double[]? AddCurve(Plot plot, float[] errors, string label, Color color, float width, LinePattern pattern,
        double zeroAt)
    {
        int finite = FiniteSteps(errors);
        if (finite == 0)
            return null;
        double[] logs = Log10(errors.AsSpan(0, finite), zeroAt);
        var signal = plot.Add.Signal(logs);
        signal.Data.XOffset = 1;  // step 1 first
        // A few steps are drawn as points too: a single one draws no line.
        float marker = finite <= FewSteps ? 2 * width + 2 : 0;
        signal.MaximumMarkerSize = marker;
        signal.MarkerSize = marker;
        signal.LineWidth = width;
        signal.Color = color;
        signal.LinePattern = pattern;
        signal.LegendText = finite < errors.Length ? $"{label}: not finite from step {finite + 1}" : label;
        return logs;
    }

    /// <summary>Runs of up to this many steps have their steps marked on the learning curve.</summary>
    private const int FewSteps = 50;

    /// <summary>The steps before the first whose error is not finite: all of them when every error is.</summary>
    private static int FiniteSteps(float[] errors)
    {
        int index = Array.FindIndex(errors, e => !float.IsFinite(e));
        return index < 0 ? errors.Length : index;
    }

    /// <summary>The first step (from 1) at which either neuron's error is not finite; null when none.</summary>
    private static int? NotFiniteFrom(RunResult run)
    {
        int finite = Math.Min(FiniteSteps(run.HandMade.StepErrors), FiniteSteps(run.Library.StepErrors));
        return finite < run.Steps ? finite + 1 : null;
    }

    /// <summary>log10 of the errors, an error of exactly zero at <paramref name="zeroAt"/>.</summary>
    internal static double[] Log10(ReadOnlySpan<float> errors, double zeroAt)
    {
        var logs = new double[errors.Length];
        for (int i = 0; i < errors.Length; i++)
            logs[i] = errors[i] > 0 ? Math.Log10(errors[i]) : zeroAt;
        return logs;
    }

    /// <summary>
    /// Where an error of exactly zero is drawn on the log axis: a power of ten below the smallest positive finite error
    /// (1e-12 when there is none), so that it lies below every other point.
    /// </summary>
    internal static double ZeroErrorLog(params float[][] curves)
    {
        float smallest = curves.SelectMany(c => c).Where(e => e > 0 && float.IsFinite(e)).DefaultIfEmpty(0f).Min();
        return smallest > 0 ? Math.Floor(Math.Log10(smallest)) - 1 : -12;
    }

    /// <summary>"Figure 7: " before a title, for a figure of the tutorial's.</summary>
    private static string Titled(int? tutorialFigure, string title) =>
        tutorialFigure is int number ? $"Figure {number}: {title}" : title;

    /// <summary>
    /// <paramref name="size"/>, or a smaller size at which the bold title fits the figure's width with a margin
    /// either side (a long line, device name or step count would run off the edges).
    /// </summary>
    private static float TitleSize(string title, float size, int width)
    {
        using var typeface = FigureFonts.CreateTypeface(bold: true);
        using var font = new SKFont(typeface, size);
        float textWidth = font.MeasureText(title);
        float available = width - 2 * TitleMargin;
        return textWidth <= available ? size : MathF.Floor(size * available / textWidth * 10) / 10;
    }

    private static FigureFile Single(string directory, int? tutorialFigure, string fileName, string title, Plot plot)
    {
        title = Titled(tutorialFigure, title);
        plot.Title(title, size: TitleSize(title, SingleTitleSize, SingleWidth));
        plot.Axes.Title.FullFigureCenter = true;   // centred on the figure, whose width TitleSize fits
        plot.SavePng(Path.Combine(directory, fileName), SingleWidth, SingleHeight);
        return new FigureFile(tutorialFigure, fileName, title, SingleWidth, SingleHeight);
    }

    /// <summary>The tutorial's <c>showSubplots</c>: two plots side by side under one title.</summary>
    private static FigureFile Pair(string directory, int tutorialFigure, string fileName, string title, Plot left, Plot right)
    {
        title = Titled(tutorialFigure, title);
        // Both panels share the y range so that before/after are comparable at a glance.
        var (bottom, top) = DataRangeY(left, right);
        double margin = Math.Max(1e-6, (top - bottom) * 0.05);
        left.Axes.SetLimitsY(bottom - margin, top + margin);
        right.Axes.SetLimitsY(bottom - margin, top + margin);

        var info = new SKImageInfo(PairWidth, PairHeight, SKColorType.Rgba8888, SKAlphaType.Premul);
        using (var surface = SKSurface.Create(info))
        {
            var canvas = surface.Canvas;
            canvas.Clear(SKColors.White);
            using (var typeface = FigureFonts.CreateTypeface(bold: true))
            using (var font = new SKFont(typeface, TitleSize(title, PairTitleSize, PairWidth)))
            using (var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true })
                canvas.DrawText(title, PairWidth / 2f, TitleBand - 14, SKTextAlign.Center, font, paint);

            // Each panel is rendered on its own surface (ScottPlot clears the canvas it renders on).
            int half = PairWidth / 2;
            DrawPanel(canvas, left, 0, TitleBand, half, PairHeight - TitleBand);
            DrawPanel(canvas, right, half, TitleBand, PairWidth - half, PairHeight - TitleBand);

            using var image = surface.Snapshot();
            using var png = image.Encode(SKEncodedImageFormat.Png, 100);
            using var file = File.Create(Path.Combine(directory, fileName));
            png.SaveTo(file);
        }
        return new FigureFile(tutorialFigure, fileName, title, PairWidth, PairHeight);
    }

    private static (double Bottom, double Top) DataRangeY(params Plot[] plots)
    {
        double bottom = double.PositiveInfinity, top = double.NegativeInfinity;
        foreach (var plottable in plots.SelectMany(p => p.GetPlottables()))
        {
            var limits = plottable.GetAxisLimits();
            bottom = Math.Min(bottom, limits.Bottom);
            top = Math.Max(top, limits.Top);
        }
        return (bottom, top);
    }

    private static void DrawPanel(SKCanvas canvas, Plot plot, int x, int y, int width, int height)
    {
        using var panel = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        plot.Render(panel.Canvas, width, height);
        using var image = panel.Snapshot();
        canvas.DrawImage(image, x, y);
    }
}
