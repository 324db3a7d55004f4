using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace NeuronInterop.Cli.Infrastructure;

/// <summary>
/// Parsers for numeric options that report a bad value as one clear line
/// (invariant culture; "inf", "nan" and friends are named as not finite).
/// </summary>
internal static class OptionParsers
{
    public static Func<ArgumentResult, int> Int(string name, int min, int max, string requirement) => result =>
    {
        string text = Single(result);
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
            result.AddError($"{name} must be {requirement} (got '{text}').");
        return value;
    };

    public static Func<ArgumentResult, float> Float(string name, bool positive) => result =>
    {
        string text = Single(result);
        bool parsed = float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value);
        if (!parsed || !float.IsFinite(value) || (positive && value <= 0))
            result.AddError($"{name} must be a finite{(positive ? " positive" : "")} number (got '{text}').");
        return value;
    };

    /// <summary>Adds the check that <paramref name="option"/> names a device: auto, host, cuda or cuda:N.</summary>
    public static void AddDeviceNameValidator(Option<string> option) => option.Validators.Add(r =>
    {
        string? value = r.GetValueOrDefault<string>();
        if (!Device.IsValidName(value))
            r.AddError($"{option.Name} must be auto, host, cuda or cuda:N (got '{value}').");
    });

    private static string Single(ArgumentResult result) =>
        result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
}
