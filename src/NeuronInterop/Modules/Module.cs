using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NeuronInterop.Modules;

/// <summary>
/// A layer of a network on one <see cref="NeuronInterop.Device"/>: a forward pass whose output
/// tensor the module owns, a backward pass that writes parameter gradients (in train mode) and,
/// on request, the input gradient, and named <see cref="Parameters"/>. Modules start in train mode.
/// </summary>
public abstract class Module : IDisposable
{
    private Tensor? _lastInput;
    private Tensor? _lastOutput;

    /// <summary>Initialises the base of a module.</summary>
    /// <param name="device">The device its tensors live on.</param>
    /// <param name="name">An optional name, used in messages and logs.</param>
    /// <param name="logger">Where the module logs; nothing is logged when null.</param>
    protected Module(Device device, string? name, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(device);
        device.ThrowIfDisposed();
        Device = device;
        Name = name;
        Logger = logger ?? NullLogger.Instance;
        Guard = new SingleThreadGuard(Describe, "its output, remembered input and gradients");
    }

    /// <summary>The device the module's tensors live on; inputs must live there too.</summary>
    public Device Device { get; }

    /// <summary>The module's name, or null.</summary>
    public string? Name { get; }

    /// <summary>Whether the module is in train mode (backward computes parameter gradients); true at creation.</summary>
    public bool IsTraining { get; private set; } = true;

    /// <summary>Whether <see cref="Dispose()"/> has been called.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>The module's trainable parameters, by name.</summary>
    public abstract IEnumerable<Parameter> Parameters { get; }

    /// <summary>The number of input features (columns) the module expects, or null when any count is accepted.</summary>
    protected internal virtual int? InputFeatures => null;

    /// <summary>The number of output features (columns) the module produces, or null when it depends on the input.</summary>
    protected internal virtual int? OutputFeatures => null;

    /// <summary>Where the module logs.</summary>
    protected ILogger Logger { get; }

    /// <summary>Refuses a use from a second thread while one thread uses the module (handlers hold it for a whole call).</summary>
    internal SingleThreadGuard Guard { get; }

    /// <summary>
    /// Runs the forward pass on a batch (rows × features). The returned tensor is owned by the
    /// module and holds the result until the next <see cref="Forward"/> call; it is reallocated
    /// only when the batch size changes (or after a caller disposed it, which is harmless). The
    /// input is remembered for <see cref="Backward"/> and must stay alive until then.
    /// </summary>
    /// <param name="input">The batch, on <see cref="Device"/>.</param>
    /// <returns>The module's output.</returns>
    /// <exception cref="ArgumentException">The input lives on another device or has the wrong shape.</exception>
    /// <exception cref="ObjectDisposedException">The module or the input has been disposed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the module (a module belongs to one thread at a time).</exception>
    public Tensor Forward(Tensor input)
    {
        ThrowIfDisposed();
        using SingleThreadGuard.Use use = Guard.Enter();
        CheckOnDevice(input, nameof(input));
        ValidateInput(input);
        Tensor output = ForwardCore(input);
        _lastInput = input;
        _lastOutput = output;
        return output;
    }

    /// <summary>The call form of <see cref="Forward"/>, like PuzzleLib's <c>module(data)</c>.</summary>
    /// <param name="input">The batch, on <see cref="Device"/>.</param>
    /// <returns>The module's output, owned by the module.</returns>
    public Tensor Invoke(Tensor input) => Forward(input);

    /// <summary>
    /// Runs the backward pass for the last <see cref="Forward"/> call. In train mode the parameter
    /// gradients are written (overwritten, or added to with <paramref name="accumulate"/>); with
    /// <paramref name="updGrad"/> the input gradient is computed and returned (owned by the module).
    /// </summary>
    /// <param name="grad">∂J/∂output, the shape of the last output.</param>
    /// <param name="updGrad">Whether to compute the gradient with respect to the input.</param>
    /// <param name="accumulate">Add the parameter gradients to their buffers instead of overwriting them.</param>
    /// <returns>The input gradient, or null when <paramref name="updGrad"/> is false.</returns>
    /// <exception cref="InvalidOperationException">No forward pass has run, or another thread is using the module.</exception>
    /// <exception cref="ArgumentException"><paramref name="grad"/> lives on another device or its shape differs from the output's.</exception>
    /// <exception cref="ObjectDisposedException">The module, the gradient or the remembered input has been disposed.</exception>
    public Tensor? Backward(Tensor grad, bool updGrad = true, bool accumulate = false)
    {
        ThrowIfDisposed();
        using SingleThreadGuard.Use use = Guard.Enter();
        CheckOnDevice(grad, nameof(grad));
        if (_lastInput is null || _lastOutput is null)
        {
            throw new InvalidOperationException($"{Describe()}: Backward needs a Forward call first.");
        }
        if (_lastInput.IsDisposed)
        {
            throw new ObjectDisposedException(Describe(),
                $"{Describe()}: the input of the last Forward call has been disposed (a Validator or Calculator releases " +
                "the batches it cuts), and Backward needs it: run Forward again first.");
        }
        if (!SameShape(grad, _lastOutput))
        {
            throw new ShapeMismatchException(
                $"{Describe()}: the gradient has shape {ShapeText(grad)}, the last output {ShapeText(_lastOutput)}.");
        }
        Tensor? inputGrad = BackwardCore(_lastInput, grad, updGrad, accumulate);
        // Accumulating, one skipped pass leaves the sum partial until the gradients are zeroed or overwritten.
        GradientsMissABackward = !IsTraining || (accumulate && GradientsMissABackward);
        return inputGrad;
    }

    /// <summary>
    /// Whether the parameter gradients miss a <see cref="Backward"/> that ran in eval mode and so wrote none: the
    /// last one did, or one did since the gradients were last zeroed or overwritten (while accumulating). Cleared
    /// by a train-mode <see cref="Backward"/> that overwrites and by <see cref="ZeroGradParams"/>. An optimizer
    /// step would apply stale or partial gradients.
    /// </summary>
    internal bool GradientsMissABackward { get; private set; }

    /// <summary>Puts the module in train mode: <see cref="Backward"/> computes parameter gradients.</summary>
    public void TrainMode()
    {
        ThrowIfDisposed();
        using SingleThreadGuard.Use use = Guard.Enter();
        IsTraining = true;
    }

    /// <summary>Puts the module in eval mode: <see cref="Backward"/> leaves parameter gradients alone.</summary>
    public void EvalMode()
    {
        ThrowIfDisposed();
        using SingleThreadGuard.Use use = Guard.Enter();
        IsTraining = false;
    }

    /// <summary>Sets every parameter gradient to zero.</summary>
    /// <exception cref="ObjectDisposedException">The module or a parameter's tensor has been disposed; no gradient is changed then.</exception>
    public void ZeroGradParams()
    {
        ThrowIfDisposed();
        using SingleThreadGuard.Use use = Guard.Enter();
        foreach (Parameter parameter in Parameters)
        {
            parameter.ThrowIfDisposed();  // all checked first: a failure changes no gradient
        }
        foreach (Parameter parameter in Parameters)
        {
            parameter.Grad.Fill(0f);
        }
        GradientsMissABackward = false;
    }

    /// <summary>
    /// Saves the parameters' values to an HDF5 file in PuzzleLib's layout (<c>Module.save</c>), so
    /// that PuzzleLib, h5py or <see cref="Load(string)"/> can read them back: each parameter is
    /// stored under <c>{Name}.{parameter name}</c>, such as <c>.W</c> for an unnamed layer or
    /// <c>lin.W</c> for one named <c>lin</c>. An existing file is replaced only once the new one is
    /// complete, so a failed save leaves it as it was; the new file keeps the old one's permissions,
    /// and a symbolic link keeps pointing to it.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or a folder, or the module's name holds a '/', a NUL or an unpaired surrogate.</exception>
    /// <exception cref="ObjectDisposedException">The module or one of its parameters has been disposed.</exception>
    /// <exception cref="IOException">The file cannot be written (its folder is missing, the disk is full, the module's name is too long for HDF5).</exception>
    /// <exception cref="UnauthorizedAccessException">The folder takes no new files, or the file may not be replaced.</exception>
    /// <exception cref="InvalidOperationException">Two of the module's parameters have the same name.</exception>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using SingleThreadGuard.Use use = Guard.Enter();
        IReadOnlyList<Parameter> parameters = CheckSavable();
        string fullPath = Path.GetFullPath(path);
        // Through a symbolic link, the file it points to is replaced, not the link.
        if (new FileInfo(fullPath) is { LinkTarget: not null } link && link.ResolveLinkTarget(returnFinalTarget: true) is { } target)
        {
            fullPath = target.FullName;
        }
        if (Directory.Exists(fullPath))
        {
            throw new ArgumentException($"'{path}' is a folder, not a file.", nameof(path));
        }

        string folder = Path.GetDirectoryName(fullPath)!;
        string temporary = Path.Combine(folder, $".neuron-save-{Guid.NewGuid():N}.tmp");
        FileStream stream;
        try
        {
            stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite);
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
                ParameterFile.Write(parameters, this, stream);
                stream.Flush(flushToDisk: true);
            }
            if (!OperatingSystem.IsWindows() && File.Exists(fullPath))
            {
                File.SetUnixFileMode(temporary, File.GetUnixFileMode(fullPath));  // keep the replaced file's permissions
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
        Logger.LogDebug("{Module}: parameters saved to {Path} (count: {Count})", Describe(), parameters.Count, fullPath);
    }

    /// <summary>
    /// Writes the parameters' values to <paramref name="stream"/> at its position, as
    /// <see cref="Save(string)"/> writes a file; the stream is left after them.
    /// </summary>
    /// <param name="stream">A writable stream.</param>
    /// <exception cref="ArgumentException">The stream cannot be written, or the module's name holds a '/', a NUL or an unpaired surrogate.</exception>
    /// <exception cref="ObjectDisposedException">The module or one of its parameters has been disposed.</exception>
    /// <exception cref="InvalidOperationException">Two of the module's parameters have the same name.</exception>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite)
        {
            throw new ArgumentException("Saving needs a writable stream.", nameof(stream));
        }
        using SingleThreadGuard.Use use = Guard.Enter();
        IReadOnlyList<Parameter> parameters = CheckSavable();
        if (stream.CanSeek && stream.Length == 0 && stream.Position == 0)
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
    /// <exception cref="IOException">The file cannot be read (<see cref="DirectoryNotFoundException"/> for a missing folder).</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="ObjectDisposedException">The module or one of its parameters has been disposed.</exception>
    /// <exception cref="InvalidOperationException">Two of the module's parameters have the same name.</exception>
    public void Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using SingleThreadGuard.Use use = Guard.Enter();
        IReadOnlyList<Parameter> parameters = CheckSavable();
        if (Directory.Exists(path))
        {
            throw new ArgumentException($"'{path}' is a folder, not a file.", nameof(path));
        }
        float[][] values;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            values = ParameterFile.Read(parameters, this, stream, $"'{path}'");
        }
        Assign(parameters, values);
        Logger.LogDebug("{Module}: parameters loaded from {Path} (count: {Count})", Describe(), parameters.Count, path);
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
    public void Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead)
        {
            throw new ArgumentException("Loading needs a readable stream.", nameof(stream));
        }
        using SingleThreadGuard.Use use = Guard.Enter();
        IReadOnlyList<Parameter> parameters = CheckSavable();
        float[][] values;
        if (stream.CanSeek && stream.Position == 0)
        {
            // HDF5 addresses count from the file's first byte: a stream at its start is read in place.
            values = ParameterFile.Read(parameters, this, stream, "the stream");
            stream.Seek(0, SeekOrigin.End);
        }
        else
        {
            using Stream file = CopyToStart(stream);
            values = ParameterFile.Read(parameters, this, file, "the stream");
        }
        Assign(parameters, values);
    }

    /// <summary>Releases the module's tensors.</summary>
    public void Dispose()
    {
        if (IsDisposed)
        {
            return;
        }
        IsDisposed = true;
        _lastInput = null;
        _lastOutput = null;
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc />
    public override string ToString() => Describe();

    /// <summary>Checks the shape of an input on the module's device; throws an <see cref="ArgumentException"/> when it does not fit.</summary>
    /// <param name="input">The input.</param>
    protected abstract void ValidateInput(Tensor input);

    /// <summary>The forward pass proper, on a validated input.</summary>
    /// <param name="input">The input.</param>
    /// <returns>The output, owned by the module.</returns>
    protected abstract Tensor ForwardCore(Tensor input);

    /// <summary>The backward pass proper, with validated arguments.</summary>
    /// <param name="input">The input of the last forward pass.</param>
    /// <param name="grad">∂J/∂output.</param>
    /// <param name="updGrad">Whether to compute the input gradient.</param>
    /// <param name="accumulate">Add to the parameter gradients instead of overwriting them.</param>
    /// <returns>The input gradient or null.</returns>
    protected abstract Tensor? BackwardCore(Tensor input, Tensor grad, bool updGrad, bool accumulate);

    /// <summary>Releases the module's tensors.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> when the module has been disposed.</summary>
    protected internal void ThrowIfDisposed()
    {
        if (IsDisposed)
        {
            throw new ObjectDisposedException(Describe());
        }
    }

    /// <summary>The module's name and type, for messages.</summary>
    /// <returns>A short description.</returns>
    protected internal virtual string Describe() => Name is null ? GetType().Name : $"{GetType().Name} '{Name}'";

    /// <summary>Throws when <paramref name="tensor"/> is null, disposed or on another device than the module.</summary>
    /// <param name="tensor">The tensor.</param>
    /// <param name="paramName">The argument's name.</param>
    protected internal void CheckOnDevice(Tensor tensor, string paramName)
    {
        ArgumentNullException.ThrowIfNull(tensor, paramName);
        tensor.ThrowIfDisposed();
        if (!ReferenceEquals(tensor.Device, Device))
        {
            throw new ArgumentException(
                $"{Describe()} lives on {Device}, but {paramName} lives on {tensor.Device}.", paramName);
        }
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

    internal static bool SameShape(Tensor a, Tensor b)
    {
        if (a.Rank != b.Rank)
        {
            return false;
        }
        for (int i = 0; i < a.Rank; i++)
        {
            if (a.Shape[i] != b.Shape[i])
            {
                return false;
            }
        }
        return true;
    }

    internal static string ShapeText(Tensor tensor) => Tensor.FormatShape(tensor.Shape);
}
