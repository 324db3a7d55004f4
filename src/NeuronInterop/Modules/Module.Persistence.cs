using Microsoft.Extensions.Logging;

namespace NeuronInterop.Modules;

// Saving and loading a module's parameters: the public Save and Load, and the checks and stream
// handling around ParameterFile, which reads and writes the HDF5 itself.
public abstract partial class Module
{
    /// <summary>
    /// Saves the parameters' values to an HDF5 file in PuzzleLib's layout (<c>Module.save</c>), so
    /// that PuzzleLib, h5py or <see cref="Load(string)"/> can read them back: each parameter is
    /// stored under <c>{Name}.{parameter name}</c>, such as <c>.W</c> for an unnamed layer or
    /// <c>lin.W</c> for one named <c>lin</c>. An existing file is replaced only once the new one is
    /// complete, so a failed save leaves it as it was; the new file keeps the old one's permissions
    /// and, as far as the system allows (all of it for root), its owner and group, and a symbolic
    /// link keeps pointing to it. A device (<c>/dev/null</c>) or a pipe is not replaced
    /// but written into, as a shell's redirection would; a socket, which cannot be, is refused.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or a folder, or the module's name holds a '/', a NUL or an unpaired surrogate.</exception>
    /// <exception cref="ObjectDisposedException">The module or one of its parameters has been disposed.</exception>
    /// <exception cref="IOException">The file cannot be written (its folder is missing, the disk is full, the module's name is too long for HDF5, it is a socket).</exception>
    /// <exception cref="UnauthorizedAccessException">The folder takes no new files, or the file may not be replaced.</exception>
    /// <exception cref="InvalidOperationException">Two of the module's parameters have the same name.</exception>
    /// <exception cref="NotSupportedException">A parameter holds more values than a .NET array (<see cref="Array.MaxLength"/>).</exception>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using SingleThreadGuard.Use use = Guard.Enter();
        IReadOnlyList<Parameter> parameters = CheckSavable();
        string fullPath = Path.GetFullPath(path);
        // Told before the links are followed here: /dev/stdout and a shell's >(command) lead through /proc to a pipe
        // that no path names ("pipe:[1234]"), which the system's own lookup still reaches.
        if (FileKind.IsSpecial(fullPath))
        {
            if (FileKind.IsSocket(fullPath))
            {
                // Opening one fails with the system's "No such device or address", which names neither.
                throw new IOException($"Cannot save to '{path}': it is a socket, which cannot be written as a file. " +
                                      "Name a file, a device or a named pipe.");
            }
            // A new file renamed over it would take its place: a regular file where /dev/null was (for root).
            using var special = new FileStream(fullPath, FileMode.Open, FileAccess.Write);
            WriteTo(special, parameters);
            Logger.LogDebug("{Module}: parameters written to {Path} (count: {Count})", Describe(), fullPath, parameters.Count);
            return;
        }
        // Through a symbolic link, the file it points to is replaced, not the link.
        fullPath = FollowLinks(fullPath, path);
        if (Directory.Exists(fullPath))
        {
            throw new ArgumentException($"'{path}' is a folder, not a file.", nameof(path));
        }

        string folder = Path.GetDirectoryName(fullPath)!;
        string temporary = Path.Combine(folder, $".neuron-save-{Guid.NewGuid():N}.tmp");
        bool replaces = File.Exists(fullPath);
        UnixFileMode? keptMode = !OperatingSystem.IsWindows() && replaces ? File.GetUnixFileMode(fullPath) : null;
        (uint User, uint Group)? keptOwner = replaces ? FileKind.Owner(fullPath) : null;
        FileStream stream;
        try
        {
            stream = CreateReplacement(temporary, keptMode);
        }
        // The messages name the folder, not the temporary file the caller never chose.
        catch (DirectoryNotFoundException e)
        {
            throw new DirectoryNotFoundException($"Cannot save to '{path}': the folder '{folder}' does not exist.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string message = $"Cannot save to '{path}': the folder '{folder}' takes no new files (a save writes a new file, " +
                             "then replaces the old one).";
            throw e is UnauthorizedAccessException ? new UnauthorizedAccessException(message, e) : new IOException(message, e);
        }
        try
        {
            using (stream)
            {
                if (keptOwner is { } owner)
                {
                    FileKind.TryGiveTo(stream.SafeFileHandle, owner);
                }
                ParameterFile.Write(parameters, this, stream);
                stream.Flush(flushToDisk: true);
            }
            if (keptMode is { } mode && !OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(temporary, mode);  // the replaced file's permissions exactly (created less the umask)
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
        FileKind.FlushFolder(folder);  // the rename itself, after a crash
        Logger.LogDebug("{Module}: parameters saved to {Path} (count: {Count})", Describe(), fullPath, parameters.Count);
    }

    /// <summary>
    /// Creates the new file that replaces the saved one once complete: with <paramref name="keptMode"/> (the replaced
    /// file's permissions, less the umask) from the start, so that the parameters are never readable by more users
    /// while they are written than the replaced file let read them; with the system's default without one.
    /// </summary>
    internal static FileStream CreateReplacement(string path, UnixFileMode? keptMode)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite };
        if (keptMode is { } mode && !OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = mode;
        }
        return new FileStream(path, options);
    }

    /// <summary>
    /// The file that <paramref name="fullPath"/> leads to through symbolic links, as the system follows them: the folder of
    /// each link's target, relative to the link's folder or absolute, is resolved by the system (realpath), so that ".."
    /// after a folder reached through a link goes up from where that link leads
    /// (<see cref="FileSystemInfo.ResolveLinkTarget(bool)"/> goes up by text).
    /// </summary>
    /// <exception cref="IOException">The links go on past the system's limit of 40 (a loop).</exception>
    private static string FollowLinks(string fullPath, string path)
    {
        const int MaxLinks = 40;  // Linux's MAXSYMLINKS
        for (int followed = 0; new FileInfo(fullPath).LinkTarget is { } target; followed++)
        {
            if (followed == MaxLinks)
            {
                throw new IOException($"Cannot save to '{path}': its symbolic links go on past {MaxLinks} links (a loop?).");
            }
            string next = Path.Combine(Path.GetDirectoryName(fullPath)!, target);  // an absolute target as it is, ".." kept
            string folder = Path.GetDirectoryName(next)!;
            fullPath = Path.Join(FileKind.RealPath(folder) ?? Path.GetFullPath(folder), Path.GetFileName(next));
        }
        return fullPath;
    }

    /// <summary>
    /// Writes the parameters' values to <paramref name="stream"/> at its position, as
    /// <see cref="Save(string)"/> writes a file; the stream is left after them.
    /// </summary>
    /// <param name="stream">A writable stream.</param>
    /// <remarks>
    /// Where writing fails, the stream may hold part of a file: an empty stream that can be read and sought is written
    /// directly, any other from a complete copy.
    /// </remarks>
    /// <exception cref="ArgumentException">The stream cannot be written, or the module's name holds a '/', a NUL or an unpaired surrogate.</exception>
    /// <exception cref="ObjectDisposedException">The module or one of its parameters has been disposed.</exception>
    /// <exception cref="IOException">The parameters cannot be written (the module's name is too long for HDF5, the stream fails).</exception>
    /// <exception cref="InvalidOperationException">Two of the module's parameters have the same name.</exception>
    /// <exception cref="NotSupportedException">A parameter holds more values than a .NET array (<see cref="Array.MaxLength"/>).</exception>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite)
        {
            throw new ArgumentException("Saving needs a writable stream.", nameof(stream));
        }
        using SingleThreadGuard.Use use = Guard.Enter();
        WriteTo(stream, CheckSavable());
    }

    /// <summary>Writes <paramref name="parameters"/> to <paramref name="stream"/> at its position, leaving it after them.</summary>
    private void WriteTo(Stream stream, IReadOnlyList<Parameter> parameters)
    {
        // PureHDF writes into an empty stream it can also read and seek; any other gets a copy.
        if (stream.CanSeek && stream.CanRead && stream.Length == 0 && stream.Position == 0)
        {
            ParameterFile.Write(parameters, this, stream);
            stream.Seek(0, SeekOrigin.End);
            return;
        }
        // HDF5 addresses count from the file's first byte, so the file is made whole first.
        using Stream file = TemporaryStream();
        ParameterFile.Write(parameters, this, file);
        file.Position = 0;
        file.CopyTo(stream);
    }

    /// <summary>
    /// Loads the parameters' values from an HDF5 file in PuzzleLib's layout, written by
    /// <see cref="Save(string)"/> or by PuzzleLib's <c>Module.save</c>: each parameter is read from
    /// <c>{Name}.{parameter name}</c>, so the module must have the name it was saved under. Values
    /// must be float32 (or float16) and have the parameter's shape; the file may hold other
    /// modules' parameters too, but no parameter under this module's name that it lacks (a bias
    /// for a layer without one). Every parameter is read and checked before any is changed, so a
    /// file that does not fit leaves the module as it was.
    /// </summary>
    /// <param name="path">The file to read.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or a folder, or the module's name holds a '/', a NUL or an unpaired surrogate.</exception>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="InvalidDataException">The file is not HDF5, is damaged (values missing from it, say), or lacks fitting values
    /// for a parameter; the message says which and why.</exception>
    /// <exception cref="IOException">The file cannot be read (<see cref="DirectoryNotFoundException"/> for a missing folder), or it is a socket.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="ObjectDisposedException">The module or one of its parameters has been disposed.</exception>
    /// <exception cref="InvalidOperationException">Two of the module's parameters have the same name.</exception>
    /// <exception cref="NotSupportedException">A parameter holds more values than a .NET array (<see cref="Array.MaxLength"/>).</exception>
    public void Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using SingleThreadGuard.Use use = Guard.Enter();
        IReadOnlyList<Parameter> parameters = CheckSavable();
        if (Directory.Exists(path))
        {
            throw new ArgumentException($"'{path}' is a folder, not a file.", nameof(path));
        }
        if (FileKind.IsSocket(Path.GetFullPath(path)))
        {
            // Opening one fails with the system's "No such device or address", which says nothing of what to do.
            throw new IOException($"Cannot load from '{path}': it is a socket, which cannot be read as a file. " +
                                  "Name a file, a device or a named pipe.");
        }
        float[][] values;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            // A named pipe (a shell's <(command), /dev/stdin) cannot seek: ReadFrom reads its bytes whole first.
            values = ReadFrom(stream, parameters, $"'{path}'");
        }
        Assign(parameters, values);
        Logger.LogDebug("{Module}: parameters loaded from {Path} (count: {Count})", Describe(), path, parameters.Count);
    }

    /// <summary>
    /// Loads the parameters' values from <paramref name="stream"/>, as <see cref="Load(string)"/>
    /// does from a file: the file is read from the stream's position to its end (so a stream that
    /// holds several saved files one after another cannot be read this way).
    /// </summary>
    /// <param name="stream">A readable stream.</param>
    /// <exception cref="ArgumentException">The stream cannot be read, or the module's name holds a '/', a NUL or an unpaired surrogate.</exception>
    /// <exception cref="InvalidDataException">The data is not HDF5, is damaged, or lacks fitting values for a parameter.</exception>
    /// <exception cref="ObjectDisposedException">The module or one of its parameters has been disposed.</exception>
    /// <exception cref="InvalidOperationException">Two of the module's parameters have the same name.</exception>
    /// <exception cref="NotSupportedException">A parameter holds more values than a .NET array (<see cref="Array.MaxLength"/>).</exception>
    public void Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead)
        {
            throw new ArgumentException("Loading needs a readable stream.", nameof(stream));
        }
        using SingleThreadGuard.Use use = Guard.Enter();
        IReadOnlyList<Parameter> parameters = CheckSavable();
        float[][] values = ReadFrom(stream, parameters, "the stream");
        Assign(parameters, values);
    }

    /// <summary>
    /// Reads <paramref name="parameters"/>' values from <paramref name="stream"/>, from its position to its end, leaving
    /// it there. HDF5 addresses count from the file's first byte: a stream at its start that can seek is read in place,
    /// any other from a copy.
    /// </summary>
    private float[][] ReadFrom(Stream stream, IReadOnlyList<Parameter> parameters, string source)
    {
        if (stream.CanSeek && stream.Position == 0)
        {
            float[][] values = ParameterFile.Read(parameters, this, stream, source);
            stream.Seek(0, SeekOrigin.End);
            return values;
        }
        using Stream file = CopyToStart(stream);
        return ParameterFile.Read(parameters, this, file, source);
    }

    /// <summary>The parameters to save or load, checked: the module and each parameter alive, and a name HDF5 can link.</summary>
    private List<Parameter> CheckSavable()
    {
        ThrowIfDisposed();
        if (Name is not null && Name.Contains('/'))
        {
            throw new ArgumentException(
                $"{Describe()}: a module whose name holds '/' cannot be saved or loaded (HDF5 reads it as a path).");
        }
        if (Name is not null && UnstorableCharacter(Name) is { } what)
        {
            // PureHDF would write U+FFFD for an unpaired surrogate (a file the module then cannot find its name in)
            // and keep a NUL, where HDF5's C library, and so PuzzleLib and h5py, end the name.
            throw new ArgumentException(
                $"{Describe()}: a module whose name holds {what} cannot be saved or loaded: HDF5 keeps names as UTF-8 " +
                "text that ends at a NUL, as PuzzleLib and h5py read them. Give the module a name without it.");
        }
        var parameters = Parameters.ToList();
        foreach (Parameter parameter in parameters)
        {
            parameter.ThrowIfDisposed();
            // Each parameter's values pass through one .NET array on their way to or from the file.
            if (parameter.Value.ElementCount > Array.MaxLength)
            {
                throw new NotSupportedException(
                    $"{Describe()}: its parameter '{parameter.Name}' of shape {ShapeText(parameter.Value)} holds " +
                    $"{parameter.Value.ElementCount} values, and a parameter file is written and read here through a .NET " +
                    $"array, which holds at most {Array.MaxLength}. Save and load parameters of up to that many values.");
            }
        }
        // A file links each parameter by {module name}.{parameter name}: two of one name would overwrite one another.
        if (parameters.GroupBy(p => p.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new InvalidOperationException(
                $"{Describe()} has {twice.Count()} parameters named '{twice.Key}': a parameter file stores each under " +
                $"'{Name}.{twice.Key}', so they would overwrite one another. Save and load each layer on its own, " +
                "under a name of its own.");
        }
        return parameters;
    }

    /// <summary>What in <paramref name="name"/> HDF5 cannot keep in a link name (a NUL, an unpaired surrogate), or null.</summary>
    private static string? UnstorableCharacter(string name)
    {
        ReadOnlySpan<char> rest = name;
        while (!rest.IsEmpty)
        {
            int at = name.Length - rest.Length;
            if (System.Text.Rune.DecodeFromUtf16(rest, out System.Text.Rune rune, out int used) != System.Buffers.OperationStatus.Done)
            {
                return $"an unpaired surrogate (U+{(int)rest[0]:X4} at index {at})";
            }
            if (rune.Value == 0)
            {
                return $"a NUL character (at index {at})";
            }
            rest = rest[used..];
        }
        return null;
    }

    /// <summary>The rest of <paramref name="stream"/> in a <see cref="TemporaryStream"/>, at its start.</summary>
    private static Stream CopyToStart(Stream stream)
    {
        Stream copy = TemporaryStream();
        try
        {
            stream.CopyTo(copy);
            copy.Position = 0;
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A stream for a whole parameter file on its way to or from a caller's stream: a temporary file
    /// that goes when disposed, where one can be made (a growing MemoryStream's doublings cost more
    /// than the save or load itself for large layers), else memory.
    /// </summary>
    private static Stream TemporaryStream()
    {
        try
        {
            return new FileStream(Path.Combine(Path.GetTempPath(), $"neuron-{Guid.NewGuid():N}.tmp"),
                FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize: 1 << 16, FileOptions.DeleteOnClose);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new MemoryStream();
        }
    }

    private static void Assign(IReadOnlyList<Parameter> parameters, float[][] values)
    {
        for (int i = 0; i < parameters.Count; i++)
        {
            parameters[i].Value.CopyFrom(values[i]);
        }
    }
}
