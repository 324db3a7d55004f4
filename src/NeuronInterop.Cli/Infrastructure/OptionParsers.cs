using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

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
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= min && value <= max)
            return value;
        // An integer outside the range (say "a positive integer" of 12 digits) is told the bound it
        // passes, not the requirement it seems to meet.
        bool integer = BigInteger.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out BigInteger big);
        string message = integer && big > max ? $"at most {max.ToString(CultureInfo.InvariantCulture)}"
            : integer && big < min ? $"at least {min.ToString(CultureInfo.InvariantCulture)}"
            : requirement;
        result.AddError($"{name} must be {message} (got '{text}').");
        return value;
    };

    /// <param name="name">The option, for messages.</param>
    /// <param name="positive">Whether the number must be above 0.</param>
    /// <param name="limit">The largest the number may be in size, where there is such a limit.</param>
    public static Func<ArgumentResult, float> Float(string name, bool positive, float limit = float.MaxValue) => result =>
    {
        string text = Single(result);
        bool parsed = float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value);
        if (!parsed || !float.IsFinite(value) || (positive && value <= 0))
            result.AddError($"{name} must be a finite{(positive ? " positive" : "")} number (got '{text}').");
        else if (Math.Abs(value) > limit)
            result.AddError(string.Create(CultureInfo.InvariantCulture, $"{name} must be at most {limit} in size (got '{text}')."));
        return value;
    };

    /// <summary>
    /// A <c>--device</c> option: auto, host, cuda or cuda:N, checked at parse time. Without it the
    /// library's default applies: <c>NEURON_BACKEND</c> when set (as <see cref="Device.Default"/> reads
    /// it), else auto.
    /// </summary>
    public static Option<string> DeviceOption(string description)
    {
        var option = new Option<string>("--device")
        {
            Description = description + $" Default: {Device.BackendVariable} when set, else auto.",
            DefaultValueFactory = _ => DefaultDeviceName(),
            HelpName = "auto|host|cuda",
        };
        option.Validators.Add(r =>
        {
            string? value = r.GetValueOrDefault<string>();
            if (Device.IsValidName(value))
                return;
            r.AddError(r.Implicit
                ? $"{Device.BackendVariable} must be auto, host, cuda or cuda:N (got '{value}'); --device overrides it."
                : $"{option.Name} must be auto, host, cuda or cuda:N (got '{value}').");
        });
        return option;
    }

    /// <summary>
    /// <c>NEURON_BACKEND</c>'s value when it chose the device: the parsed command has a <c>--device</c> option
    /// (<see cref="DeviceOption"/>) that was not given and the variable is set. Else null.
    /// </summary>
    public static string? DeviceFromEnvironment(ParseResult parse)
    {
        var option = parse.CommandResult.Command.Options.FirstOrDefault(o => o.Name == "--device");
        return option is null || parse.GetResult(option) is { Implicit: false } ? null : BackendSetting();
    }

    private static string DefaultDeviceName() => BackendSetting() ?? "auto";

    /// <summary>NEURON_BACKEND's value, trimmed; null when unset or blank.</summary>
    private static string? BackendSetting()
    {
        string? setting = Environment.GetEnvironmentVariable(Device.BackendVariable);
        return string.IsNullOrWhiteSpace(setting) ? null : setting.Trim();
    }

    private static string Single(ArgumentResult result) =>
        result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
}
