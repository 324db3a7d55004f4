namespace NeuronInterop.Cli.Infrastructure;

/// <summary>Creates output folders and proves they can be written, before any work is done.</summary>
internal static class OutputFolder
{
    /// <summary>Creates the folder <paramref name="path"/> (an option's value) and checks that it can be written.</summary>
    /// <param name="path">The folder.</param>
    /// <param name="option">The option that named it, for messages.</param>
    /// <returns>The folder's full path.</returns>
    /// <exception cref="CliException">The folder cannot be created or written.</exception>
    public static string Prepare(string path, string option = "--out")
    {
        string fullPath = FullPath(path, option, "folder");
        if (File.Exists(fullPath))
            throw new CliException($"{option}: '{fullPath}' is a file, not a folder.");
        // An empty file, deleted on close, proves the folder writable; errors name the folder, not it.
        string probe = Path.Combine(fullPath, $".neuron-write-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(fullPath);
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
            return fullPath;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string reason = e switch
            {
                UnauthorizedAccessException => "permission denied.",
                FileNotFoundException or DirectoryNotFoundException when Directory.Exists(fullPath) => "it takes no new files.",
                _ => CliApplication.OneLine(e.Message).Replace(probe, "a new file in it", StringComparison.Ordinal),
            };
            throw new CliException($"{option}: cannot write to the folder '{fullPath}': {reason}", e);
        }
    }

    /// <summary>
    /// Checks that files can be written later in a <see cref="Prepare"/>d folder: no folder has the name of one.
    /// </summary>
    /// <param name="folder">The folder's full path.</param>
    /// <param name="names">The files' names in it.</param>
    /// <param name="option">The option that named the folder, for messages.</param>
    /// <exception cref="CliException">A folder has a file's name.</exception>
    public static void CheckFiles(string folder, IEnumerable<string> names, string option = "--out")
    {
        foreach (string name in names)
        {
            string path = Path.Combine(folder, name);
            if (Directory.Exists(path))
                throw new CliException($"{option}: '{path}' is a folder: remove it or choose another {option}.");
        }
    }

    /// <summary>Deletes those of the files in <paramref name="folder"/> that exist; a folder of one's name is left alone.</summary>
    /// <param name="folder">The folder's full path.</param>
    /// <param name="names">The files' names in it.</param>
    /// <returns>The names of the files deleted, in the order given.</returns>
    public static IReadOnlyList<string> RemoveFiles(string folder, IEnumerable<string> names)
    {
        var removed = new List<string>();
        foreach (string name in names)
        {
            string path = Path.Combine(folder, name);
            if (!File.Exists(path))
                continue;
            File.Delete(path);
            removed.Add(name);
        }
        return removed;
    }

    /// <summary>
    /// Checks that the file <paramref name="path"/> (an option's value) can be written later: it is
    /// not a folder, and its folder can be created and written. The file itself is not created.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="option">The option that named it, for messages.</param>
    /// <returns>The file's full path.</returns>
    /// <exception cref="CliException">The file could not be written.</exception>
    public static string PrepareFile(string path, string option)
    {
        string fullPath = FullPath(path, option, "file");
        if (Directory.Exists(fullPath))
            throw new CliException($"{option} '{path}' is a folder: name a file.");
        Prepare(Path.GetDirectoryName(fullPath)!, option);
        return fullPath;
    }

    private static string FullPath(string path, string option, string kind)
    {
        try
        {
            return Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new CliException($"{option} '{path}' is not a valid {kind} path: {CliApplication.OneLine(e.Message)}", e);
        }
    }
}
