using ScottPlot;
using SkiaSharp;

namespace NeuronInterop.Cli.RestoreLine;

/// <summary>
/// The font every figure is drawn in: DejaVu Sans, regular and bold (the tutorial's, matplotlib's default), carried
/// inside this assembly (Fonts/LICENSE.txt). Without it a figure takes whatever fonts the machine has, and a machine
/// with none (a container, a GPU server) gets figures without a word on them: no title, label, tick or legend.
/// </summary>
internal static class FigureFonts
{
    public const string Family = "DejaVu Sans";

    private static readonly SKData RegularData = Load("DejaVuSans.ttf");
    private static readonly SKData BoldData = Load("DejaVuSans-Bold.ttf");

    /// <summary>ScottPlot resolves <see cref="Family"/> to the carried files, before the system's fonts, and draws every text in it.</summary>
    static FigureFonts()
    {
        Fonts.FontResolvers.Insert(0, new Resolver());
        Fonts.Default = Family;
    }

    /// <summary>Makes sure ScottPlot draws in <see cref="Family"/>: call before creating a plot.</summary>
    public static void UseInPlots()
    {
        // The static constructor did the work.
    }

    /// <summary>A new typeface of the family (the caller disposes it).</summary>
    public static SKTypeface CreateTypeface(bool bold) =>
        SKTypeface.FromData(bold ? BoldData : RegularData)
        ?? throw new InvalidOperationException($"the carried {Family} font could not be read");

    private static SKData Load(string file)
    {
        string name = $"{typeof(FigureFonts).Namespace}.Fonts.{file}";
        using var stream = typeof(FigureFonts).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"the font {name} is missing from {typeof(FigureFonts).Assembly.GetName().Name}");
        return SKData.Create(stream);
    }

    /// <summary><see cref="Family"/>, bold from semibold up; there is no italic, which none of the figures uses.</summary>
    private sealed class Resolver : IFontResolver
    {
        public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing width) =>
            fontName == Family ? FigureFonts.CreateTypeface(weight >= FontWeight.SemiBold) : null;

        public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) =>
            fontName == Family ? FigureFonts.CreateTypeface(bold) : null;
    }
}
