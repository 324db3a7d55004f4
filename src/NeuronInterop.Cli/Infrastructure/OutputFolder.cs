using System.Text.RegularExpressions;

namespace NeuronInterop.Cli.Infrastructure;

/// <summary>Creates output folders and proves they can be written before any work is done; writes the results.</summary>
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
    /// Checks that files can be written later in a <see cref="Prepare"/>d folder: no folder has the name of one,
    /// and each that exists may be overwritten (<see cref="CheckWritable"/>).
    /// </summary>
    /// <param name="folder">The folder's full path.</param>
    /// <param name="names">The files' names in it.</param>
    /// <param name="option">The option that named the folder, for messages.</param>
    /// <exception cref="CliException">A folder has a file's name, or a file is read-only or cannot be opened for writing.</exception>
    public static void CheckFiles(string folder, IEnumerable<string> names, string option = "--out")
    {
        foreach (string name in names)
        {
            string path = Path.Combine(folder, name);
            if (Directory.Exists(path))
                throw new CliException($"{option}: '{path}' is a folder: remove it or choose another {option}.");
            CheckWritable(path, option, $"or choose another {option}");
        }
    }

    /// <summary>
    /// Checks that an existing file <paramref name="path"/> may be overwritten: it is not read-only (no one has write
    /// permission, which is refused whoever runs the command, root included), and it opens for writing (its content
    /// is left as it is; a named pipe is not opened). A missing file passes.
    /// </summary>
    /// <param name="path">The file's full path.</param>
    /// <param name="option">The option that named the file or its folder, for messages.</param>
    /// <param name="alternative">The end of the advice, after "make it writable or remove it,".</param>
    /// <exception cref="CliException">The file is read-only or cannot be opened for writing.</exception>
    private static void CheckWritable(string path, string option, string alternative)
    {
        var file = new FileInfo(path);
        if (!file.Exists)
            return;
        // Through a symbolic link it is the file linked to that would be written.
        if (file.LinkTarget is not null && file.ResolveLinkTarget(returnFinalTarget: true) is FileInfo { Exists: true } target)
            file = target;

        const UnixFileMode anyWrite = UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;
        bool readOnly = OperatingSystem.IsWindows()
            ? file.Attributes.HasFlag(FileAttributes.ReadOnly)
            : (file.UnixFileMode & anyWrite) == 0;
        if (readOnly)
            throw new CliException($"{option}: '{path}' is read-only: make it writable (chmod u+w) or remove it, {alternative}.");
        // Opening a named pipe for writing waits for a reader, and closing it again would end that reader's input: it
        // is written when the results are, as a shell's redirection would.
        if (FileKind.IsNamedPipe(file.FullName))
            return;
        try
        {
            using (File.OpenHandle(file.FullName, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{option}: cannot write '{path}': {Reason(e)}: make it writable or remove it, {alternative}.", e);
        }
    }

    /// <summary>Deletes those of the files in <paramref name="folder"/> that exist; a folder of one's name is left alone.</summary>
    /// <param name="folder">The folder's full path.</param>
    /// <param name="names">The files' names in it.</param>
    /// <param name="option">The option that named the folder, for messages.</param>
    /// <param name="delete">Deletes one file: <see cref="File.Delete"/>, or a stand-in for tests.</param>
    /// <returns>The names of the files deleted, in the order given.</returns>
    /// <exception cref="CliException">A file could not be deleted; the message names it and what to do.</exception>
    public static IReadOnlyList<string> RemoveFiles(string folder, IEnumerable<string> names, string option = "--out",
        Action<string>? delete = null)
    {
        delete ??= File.Delete;
        var removed = new List<string>();
        foreach (string name in names)
        {
            string path = Path.Combine(folder, name);
            if (!File.Exists(path))
                continue;
            try
            {
                delete(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException(
                    $"{option}: cannot remove '{path}', a file of an earlier run that this run does not write (left there, it " +
                    $"would read as this run's): {Reason(e)}. Remove it or have it removed, or choose another {option}.", e);
            }
            removed.Add(name);
        }
        return removed;
    }

    /// <summary>
    /// Checks that the file <paramref name="path"/> (an option's value) can be written later: it is
    /// not a folder, and either it exists and may be overwritten (<see cref="CheckWritable"/>), or its
    /// folder can be created and takes new files. The file itself is neither created nor changed.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="option">The option that named it, for messages.</param>
    /// <returns>The file's full path.</returns>
    /// <exception cref="CliException">The file could not be written.</exception>
    public static string PrepareFile(string path, string option)
    {
        string fullPath = FullPath(path, option, "file");
        if (Directory.Exists(fullPath) || Path.EndsInDirectorySeparator(fullPath))
            throw new CliException($"{option} '{path}' is a folder: name a file.");
        // A file that exists is written in place: only a new file needs a folder that takes new files. So a file may
        // be named in a folder that takes none: /dev/null, /dev/stdout, a shell's >(command) (/dev/fd/63).
        if (File.Exists(fullPath))
            CheckWritable(fullPath, option, "or name another file");
        else
            Prepare(Path.GetDirectoryName(fullPath)!, option);
        return fullPath;
    }

    /// <summary>Writes a command's result files and says, when that fails, what failed and where the results still are.</summary>
    /// <param name="option">The option that named the files or their folder, for messages.</param>
    /// <param name="write">Writes the files; returns what the command reports of them.</param>
    /// <param name="resultsElsewhere">Where the results can still be read, to end the message.</param>
    /// <exception cref="CliException">A file could not be written (a full disk, a lost permission).</exception>
    public static T Write<T>(string option, Func<T> write, string resultsElsewhere)
    {
        try
        {
            return write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // .NET says "No space left on device : '/path'" or "Access to the path '/path' is denied."
            string text = CliApplication.OneLine(e.Message).TrimEnd('.');
            string failure = Regex.Match(text, "^(?<reason>.+?) : '(?<path>.+)'$") is { Success: true } parts
                ? $"cannot write '{parts.Groups["path"].Value}': {parts.Groups["reason"].Value}"
                : $"cannot write the results: {text}";
            throw new CliException($"{option}: {failure}; {resultsElsewhere}.", e);
        }
    }

    /// <summary>Why a file could not be written or deleted, to follow its path in a message.</summary>
    private static string Reason(Exception e) => e switch
    {
        // The system's own words ("Permission denied", "Operation not permitted") when .NET kept them.
        UnauthorizedAccessException { InnerException: IOException { Message: [var first, .. var rest] } } =>
            char.ToLowerInvariant(first) + CliApplication.OneLine(rest).TrimEnd('.'),
        UnauthorizedAccessException => "permission denied",
        _ => CliApplication.OneLine(e.Message).TrimEnd('.'),
    };

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
