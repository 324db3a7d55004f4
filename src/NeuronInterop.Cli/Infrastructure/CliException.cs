namespace NeuronInterop.Cli.Infrastructure;

/// <summary>A failure the user can fix (a folder that cannot be written, say); printed as one line.</summary>
internal sealed class CliException(string message, Exception? innerException = null)
    : Exception(message, innerException);
