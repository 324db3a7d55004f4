using System.CommandLine;
using System.CommandLine.Help;
using Microsoft.Extensions.Logging;
using NeuronInterop.Cli.Bench;
using NeuronInterop.Cli.Infrastructure;
using NeuronInterop.Cli.Info;
using NeuronInterop.Cli.RestoreLine;

namespace NeuronInterop.Cli;

/// <summary>
/// Builds the command tree and runs it: parse errors and known failures become one line on stderr
/// and a non-zero exit code; nothing escapes as a stack trace.
/// </summary>
internal static class CliApplication
{
    public const int ExitOk = 0;
    public const int ExitFailure = 1;
    public const int ExitUsage = 2;

    /// <summary>The global <c>--verbosity</c> option, shared by every subcommand.</summary>
    public static Option<string> CreateVerbosityOption()
    {
        var option = new Option<string>("--verbosity", "-v")
        {
            Description = Verbosity.HelpText,
            DefaultValueFactory = _ => Verbosity.Default,
            HelpName = "level",
            Recursive = true,
        };
        option.Validators.Add(result =>
        {
            string? text = result.GetValueOrDefault<string>();
            if (!Verbosity.TryParse(text, out _))
                result.AddError($"--verbosity must be quiet, minimal, normal, detailed, diagnostic or a LogLevel name (got '{text}').");
        });
        return option;
    }

    public static RootCommand CreateRootCommand(CliContext context)
    {
        var verbosity = CreateVerbosityOption();
        var root = new RootCommand(
            "NeuronInterop: a single neuron trained by hand and with the library (host or CUDA backend).")
        {
            verbosity,
        };
        root.Subcommands.Add(RestoreLineCommand.Create(context, verbosity));
        root.Subcommands.Add(InfoCommand.Create(context, verbosity));
        root.Subcommands.Add(BenchCommand.Create(context, verbosity));
        // Without a command: the help, and the usage exit code, as System.CommandLine gives a command
        // line that names no command (but without its "Required command was not provided." error).
        root.SetAction(parse =>
        {
            new HelpAction().Invoke(parse);
            return ExitUsage;
        });
        return root;
    }

    public static int Run(string[] args, CliContext context)
    {
        RootCommand root = CreateRootCommand(context);
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // Each message is a sentence.
            string messages = string.Join(" ", parse.Errors.Select(e => OneLine(e.Message)).Distinct());
            string command = parse.CommandResult.Command is RootCommand ? "neuron" : $"neuron {parse.CommandResult.Command.Name}";
            context.Error.WriteLine($"neuron: error: {messages} (see '{command} --help')");
            return ExitUsage;
        }

        try
        {
            return parse.Invoke(new InvocationConfiguration
            {
                Output = context.Output,
                Error = context.Error,
                EnableDefaultExceptionHandler = false,
            });
        }
        catch (Exception exception)
        {
            var (message, known) = ErrorReport.Describe(exception, OptionParsers.DeviceFromEnvironment(parse));
            context.Error.WriteLine($"neuron: error: {message}");
            if (!known && Verbosity.TryParse(parse.GetValue<string>("--verbosity"), out var level) && level <= LogLevel.Trace)
                context.Error.WriteLine(exception.ToString());
            return ExitFailure;
        }
    }

    /// <summary>Collapses a message to one line.</summary>
    public static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
