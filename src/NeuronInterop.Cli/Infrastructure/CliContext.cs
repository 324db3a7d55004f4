using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Spectre.Console;

namespace NeuronInterop.Cli.Infrastructure;

/// <summary>Where the tool writes: results (a Spectre console on stdout), errors and log lines (stderr).</summary>
internal sealed class CliContext
{
    private readonly Func<LogLevel, ILoggerFactory> _loggerFactory;

    private CliContext(IAnsiConsole console, TextWriter output, TextWriter error, bool isInteractive,
        Func<LogLevel, ILoggerFactory> loggerFactory)
    {
        Console = console;
        Output = output;
        Error = error;
        IsInteractive = isInteractive;
        _loggerFactory = loggerFactory;
    }

    /// <summary>Tables and results.</summary>
    public IAnsiConsole Console { get; }

    /// <summary>The raw standard output (help text, parse output).</summary>
    public TextWriter Output { get; }

    /// <summary>Errors, one line each.</summary>
    public TextWriter Error { get; }

    /// <summary>True when stdout is a terminal that can show a live progress bar.</summary>
    public bool IsInteractive { get; }

    /// <summary>Creates the logger factory for a minimum level; the caller disposes it (that flushes the console logger).</summary>
    public ILoggerFactory CreateLoggerFactory(LogLevel minimumLevel) => _loggerFactory(minimumLevel);

    /// <summary>Log categories of the library itself (its types' full names).</summary>
    private const string LibraryCategory = "NeuronInterop";

    /// <summary>
    /// The library logs routine progress (a line at the end of every training call, which restore-line
    /// makes once a step) at Information; the tool shows the library's own lines from detailed (Debug)
    /// on, and only its warnings and errors below that.
    /// </summary>
    private static LogLevel LibraryLevel(LogLevel level) =>
        level <= LogLevel.Debug ? level : (LogLevel)Math.Max((int)level, (int)LogLevel.Warning);

    /// <summary>The process console: Microsoft's console logger on stderr, Spectre on stdout.</summary>
    public static CliContext ForProcessConsole()
    {
        var console = AnsiConsole.Console;
        bool interactive = !System.Console.IsOutputRedirected && console.Profile.Capabilities.Interactive;
        return new CliContext(console, System.Console.Out, System.Console.Error, interactive,
            level => LoggerFactory.Create(builder => builder
                .SetMinimumLevel(level)
                .AddFilter(LibraryCategory, LibraryLevel(level))
                .AddSimpleConsole(options =>
                {
                    options.SingleLine = true;
                    options.TimestampFormat = null;
                    options.ColorBehavior = System.Console.IsErrorRedirected
                        ? LoggerColorBehavior.Disabled
                        : LoggerColorBehavior.Default;
                })
                .AddConsole(options => options.LogToStandardErrorThreshold = LogLevel.Trace)));
    }

    /// <summary>Given writers (in-process use, tests): plain text, no colours, no progress bar.</summary>
    public static CliContext ForWriters(TextWriter output, TextWriter error)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 120;
        return new CliContext(console, output, error, isInteractive: false,
            level => LoggerFactory.Create(builder => builder
                .SetMinimumLevel(level)
                .AddFilter(LibraryCategory, LibraryLevel(level))
                .AddProvider(new TextWriterLoggerProvider(error))));
    }
}
