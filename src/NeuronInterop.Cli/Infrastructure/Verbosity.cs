using Microsoft.Extensions.Logging;

namespace NeuronInterop.Cli.Infrastructure;

/// <summary>
/// <c>--verbosity</c>: the dotnet CLI's names (quiet, minimal, normal, detailed, diagnostic and their
/// short forms q, m, n, d, diag) or a Microsoft.Extensions.Logging level name (Trace ... None).
/// </summary>
internal static class Verbosity
{
    public const string Default = "normal";

    public const string HelpText =
        "How much to log: quiet|minimal|normal|detailed|diagnostic (or q|m|n|d|diag, or a LogLevel name: " +
        "Trace|Debug|Information|Warning|Error|Critical|None). detailed adds the library's and each command's detail (restore-line: every training step and each run's result).";

    public static bool TryParse(string? text, out LogLevel level)
    {
        level = LogLevel.Information;
        switch (text?.Trim().ToLowerInvariant())
        {
            case "q" or "quiet": level = LogLevel.Error; return true;
            case "m" or "minimal": level = LogLevel.Warning; return true;
            case "n" or "normal": level = LogLevel.Information; return true;
            case "d" or "detailed": level = LogLevel.Debug; return true;
            case "diag" or "diagnostic": level = LogLevel.Trace; return true;
        }
        // Enum.TryParse would also take numbers and comma-separated names (read as flags, so that
        // "Debug,Information" gave Warning): only a single level name is a level.
        return !string.IsNullOrWhiteSpace(text)
               && !int.TryParse(text, out _)
               && !text.Contains(',')
               && Enum.TryParse(text.Trim(), ignoreCase: true, out level)
               && Enum.IsDefined(level);
    }
}
