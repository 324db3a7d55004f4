using NeuronInterop.Cli.Infrastructure;

namespace NeuronInterop.Cli;

/// <summary>Entry point of the <c>neuron</c> command-line tool.</summary>
public static class Program
{
    /// <summary>Runs the tool on the process console.</summary>
    public static int Main(string[] args) => Run(args);

    /// <summary>
    /// Runs the tool in-process. With <paramref name="stdout"/> or <paramref name="stderr"/> given,
    /// everything the tool prints (results, log lines, errors) goes to those writers instead of the
    /// console, with no colours and no progress bar.
    /// </summary>
    /// <returns>
    /// The exit code: 0 on success, 1 when the run fails, 2 for a bad command line, 3 when <c>neuron bench</c> measured
    /// a wrong result or could not measure one.
    /// </returns>
    public static int Run(string[] args, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var context = stdout is null && stderr is null
            ? CliContext.ForProcessConsole()
            : CliContext.ForWriters(stdout ?? TextWriter.Null, stderr ?? TextWriter.Null);
        return CliApplication.Run(args, context);
    }
}
