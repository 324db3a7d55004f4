namespace NeuronInterop.Cli.Infrastructure;

/// <summary>Creates the output folder and proves it can be written, before any work is done.</summary>
internal static class OutputFolder
{
    /// <returns>The folder's full path.</returns>
    /// <exception cref="CliException">The folder cannot be created or written.</exception>
    public static string Prepare(string path)
    {
        string fullPath;
        try
        {
            fullPath = Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new CliException($"--out '{path}' is not a valid folder path: {CliApplication.OneLine(e.Message)}", e);
        }

        try
        {
            Directory.CreateDirectory(fullPath);
            string probe = Path.Combine(fullPath, $".neuron-write-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
            return fullPath;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot write to the output folder '{fullPath}': {CliApplication.OneLine(e.Message)}", e);
        }
    }
}
