using System.Runtime.Versioning;
using NeuronInterop.Modules;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;
using PureHDF;
using PureHDF.Filters;
using PureHDF.Selections;
using PureHDF.VOL.Native;
using static NeuronInterop.Tests.Model.ModelData;

namespace NeuronInterop.Tests.Model;

/// <summary>
/// <see cref="Module.Save(string)"/> and <see cref="Module.Load(string)"/> on every backend: round
/// trips, PuzzleLib's HDF5 layout both ways (the files in Data/ are written by
/// Data/make_puzzlelib_files.py as PuzzleLib's Module.save lays them out), and files that do not
/// fit, which must change nothing.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
public sealed class ParameterFileTests
{
    // The values of the Linear(2, 3) "lin" in Data/linear-2x3-lin*.hdf.
    private static readonly float[] FileW = [0f, 0.25f, 0.5f, 0.75f, 1f, 1.25f];
    private static readonly float[] FileB = [0.5f, -1f, 2f];

    private readonly string _backend;
    private string _folder = "";

    public ParameterFileTests(string backend) => _backend = backend;

    private Device TestDevice => TestBackends.Get(_backend);

    [SetUp]
    public void SetUp()
    {
        TestBackends.Get(_backend);
        _folder = Directory.CreateTempSubdirectory("neuron-parameters-").FullName;
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_folder, recursive: true);

    private static string DataFile(string name) => Path.Combine(AppContext.BaseDirectory, "Model", "Data", name);

    private Linear Layer(int inSize, int outSize, bool useBias = true, string? name = "lin", ulong seed = 5)
    {
        var layer = new Linear(inSize, outSize, useBias, seed: seed, device: TestDevice, name: name);
        layer.B?.CopyFrom(Flat(Uniform(1, outSize, (int)seed + 1)));
        return layer;
    }

    [Test]
    public void SavedParametersLoadIntoAnotherLayerBitForBit()
    {
        using Linear saved = Layer(5, 3, seed: 1);
        using Linear loaded = Layer(5, 3, seed: 2);
        Assert.That(loaded.W.ToArray(), Is.Not.EqualTo(saved.W.ToArray()), "the layers start apart");
        string path = Path.Combine(_folder, "lin.hdf");

        saved.Save(path);
        loaded.Load(path);

        Assert.Multiple(() =>
        {
            Assert.That(loaded.W.ToArray(), Is.EqualTo(saved.W.ToArray()));
            Assert.That(loaded.B!.ToArray(), Is.EqualTo(saved.B!.ToArray()));
            Assert.That(Directory.GetFiles(_folder).Select(Path.GetFileName), Is.EqualTo(new[] { "lin.hdf" }),
                "no temporary file is left behind");
        });
        using Tensor input = Tensor.FromArray(TestDevice, Uniform(4, 5, 3));
        float[] expected = saved.Forward(input).ToArray();
        Assert.That(loaded.Forward(input).ToArray(), Is.EqualTo(expected), "the same outputs");
    }

    [Test]
    public void ASavedFileHasPuzzleLibsLayout()
    {
        using Linear layer = Layer(2, 3);
        string path = Path.Combine(_folder, "lin.hdf");
        layer.Save(path);

        using var file = H5File.OpenRead(path);
        IH5Group links = file.Group("links");
        Assert.That(links.Children().Select(link => link.Name).Order(StringComparer.Ordinal), Is.EqualTo(new[] { "lin.W", "lin.b" }));
        foreach (var (name, tensor) in new[] { ("lin.W", layer.W), ("lin.b", layer.B!) })
        {
            IH5Dataset link = links.Dataset(name);
            Assert.That(link.Type.Class, Is.EqualTo(H5DataTypeClass.FixedPoint), name);
            Assert.That(link.Space.Dimensions, Is.Empty, $"{name} is a scalar");
            IH5Dataset values = file.Group("params").Dataset(link.Read<long>().ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.That(values.Type.Class, Is.EqualTo(H5DataTypeClass.FloatingPoint), name);
            Assert.That(values.Type.Size, Is.EqualTo(4), $"{name} is float32");
            Assert.That(values.Space.Dimensions, Is.EqualTo(tensor.Shape.Select(d => (ulong)d)), $"{name}'s shape");
            Assert.That(values.Read<float[]>(), Is.EqualTo(tensor.ToArray()), $"{name}'s values");
        }
    }

    [Test]
    public void AnUnnamedLayerSavesUnderAnEmptyModuleName()
    {
        using Linear layer = Layer(1, 1, name: null);
        string path = Path.Combine(_folder, "neuron.hdf");
        layer.Save(path);

        using var file = H5File.OpenRead(path);
        Assert.That(file.Group("links").Children().Select(link => link.Name).Order(StringComparer.Ordinal), Is.EqualTo(new[] { ".W", ".b" }));
    }

    [TestCase("linear-2x3-lin.hdf")]
    [TestCase("linear-2x3-lin-float16.hdf")]  // float16 values convert to float32 exactly
    [TestCase("linear-2x3-lin-int32-links.hdf")]  // links as h5py writes them where numpy's integer is 32-bit
    [TestCase("linear-2x3-lin-user-block-1024.hdf")]  // 1024 bytes of user block: HDF5's superblock at byte 1024
    [TestCase("linear-2x3-lin-appended-newer-layout.hdf")]  // the earliest format, with chunk indexes of HDF5 1.10 added to it
    [TestCase("linear-2x3-lin-shuffle.hdf")]  // gzip after the shuffle filter, which groups the values' bytes by place
    [TestCase("linear-2x3-lin-track-order.hdf")]  // links in creation order: groups' headers of the newer format
    public void LoadsALayerThatPuzzleLibSaved(string file)
    {
        using Linear layer = Layer(2, 3);
        layer.Load(DataFile(file));

        Assert.That(layer.W.ToArray(), Is.EqualTo(FileW));
        Assert.That(layer.B!.ToArray(), Is.EqualTo(FileB));
        using Tensor input = Tensor.FromArray(TestDevice, new float[,] { { 1f, 2f } });
        // [1 2]·W + b = [0 + 1.5, 0.25 + 2, 0.5 + 2.5] + [0.5, -1, 2]
        Assert.That(layer.Forward(input).ToArray(), Is.EqualTo(new[] { 2f, 1.25f, 5f }));
    }

    [Test]
    public void TheTutorialsRestoredNeuronLoadsFromAnUnnamedFile()
    {
        using Linear neuron = Layer(1, 1, name: null);
        neuron.Load(DataFile("neuron-unnamed.hdf"));

        using Tensor x = Tensor.FromArray(TestDevice, new float[,] { { 0f }, { 1f }, { -2f } });
        Assert.That(neuron.Forward(x).ToArray(), Is.EqualTo(new[] { 3f, 5f, -1f }), "y = 2x + 3");
    }

    [Test]
    public void EachLayerOfAFileOfSeveralLoadsItsOwn()
    {
        using Linear first = Layer(2, 3, name: "first");
        using Linear second = Layer(3, 1, name: "second");
        first.Load(DataFile("two-layers.hdf"));
        second.Load(DataFile("two-layers.hdf"));

        Assert.Multiple(() =>
        {
            Assert.That(first.W.ToArray(), Is.EqualTo(FileW));
            Assert.That(first.B!.ToArray(), Is.EqualTo(FileB));
            Assert.That(second.W.ToArray(), Is.EqualTo(new[] { 1f, -2f, 0.125f }));
            Assert.That(second.B!.ToArray(), Is.EqualTo(new[] { -0.5f }));
        });
    }

    [Test]
    public void ALayerWithoutBiasRefusesAFileThatHoldsItsBias()
    {
        using Linear layer = Layer(2, 3, useBias: false);
        float[] before = layer.W.ToArray();

        // Its weights alone would predict otherwise than the layer that was saved.
        var e = Assert.Throws<InvalidDataException>(() => layer.Load(DataFile("linear-2x3-lin.hdf")));
        Assert.That(e!.Message, Does.Contain("'lin.b'").And.Contain("does not have").And.Contain("copy W"));
        Assert.That(layer.W.ToArray(), Is.EqualTo(before), "a refused load changes nothing");

        using Linear withBias = Layer(2, 3);
        withBias.Load(DataFile("linear-2x3-lin.hdf"));
        layer.W.CopyFrom(withBias.W);
        Assert.That(layer.W.ToArray(), Is.EqualTo(FileW), "the way the message gives to take the weights alone");
    }

    [Test]
    public void Float64ValuesAreRefused()
    {
        using Linear layer = Layer(2, 3);
        AssertRefusedUnchanged(layer, () => layer.Load(DataFile("linear-2x3-lin-float64.hdf")),
            "parameter 'W' of Linear 'lin' is stored as float64; only float32 and float16 load without loss");
    }

    [Test]
    public void ALayerUnderAnotherNameIsToldWhatTheFileHolds()
    {
        using Linear layer = Layer(2, 3, name: "other");
        AssertRefusedUnchanged(layer, () => layer.Load(DataFile("linear-2x3-lin.hdf")),
            "has no values for parameter 'W' of Linear 'other': it has no link 'other.W' (it holds 'lin.W', 'lin.b')");
    }

    [Test]
    public void AShapeThatDiffersIsRefused()
    {
        using Linear layer = Layer(3, 2);
        AssertRefusedUnchanged(layer, () => layer.Load(DataFile("linear-2x3-lin.hdf")),
            "parameter 'W' of Linear 'lin' has shape [2x3] there, but [3x2] in the module");
    }

    [Test]
    public void AMissingBiasChangesNotEvenTheWeights()
    {
        // W fits and is read first; b is missing, and the load must fail before W is changed.
        using Linear withoutBias = Layer(2, 3, useBias: false, seed: 9);
        string path = Path.Combine(_folder, "no-bias.hdf");
        withoutBias.Save(path);
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(path), "it has no link 'lin.b' (it holds 'lin.W')");
    }

    [Test]
    public void AFileThatIsNotHdf5IsRefusedByName()
    {
        string path = Path.Combine(_folder, "notes.txt");
        File.WriteAllText(path, "W = [[2]], b = [3]\n");
        using Linear layer = Layer(2, 3);

        var error = AssertRefusedUnchanged(layer, () => layer.Load(path), $"'{path}' could not be read as a parameter file (HDF5)");
        Assert.That(error.InnerException, Is.Not.Null, "PureHDF's reason is kept");
    }

    [Test]
    public void AnHdf5FileWithoutModuleParametersIsSaidToHoldNone()
    {
        string path = Path.Combine(_folder, "other.h5");
        new H5File { ["data"] = new H5Dataset(new float[] { 1f, 2f }) }.Write(path);
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(path), "holds no module parameters");
    }

    /// <summary>A file with only one of the two groups holds no parameters either, and is told so in the same words.</summary>
    [TestCase("params")]
    [TestCase("links")]
    public void AnHdf5FileWithOnlyOneOfTheGroupsIsSaidToHoldNone(string group)
    {
        string path = Path.Combine(_folder, "half.h5");
        H5Group content = group == "params"
            ? new H5Group { ["0"] = new H5Dataset(FileW, fileDims: [2, 3]), ["1"] = new H5Dataset(FileB) }
            : new H5Group { ["lin.W"] = 0L, ["lin.b"] = 1L };
        new H5File { [group] = content }.Write(path);
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(path), "holds no module parameters: it lacks the groups 'params' and 'links'");
    }

    [Test]
    public void AMissingFileIsNotFound()
    {
        using Linear layer = Layer(2, 3);
        Assert.Throws<FileNotFoundException>(() => layer.Load(Path.Combine(_folder, "missing.hdf")));
    }

    [Test]
    public void SavingReplacesAnExistingFile()
    {
        string path = Path.Combine(_folder, "lin.hdf");
        File.WriteAllText(path, "an older file");
        using Linear saved = Layer(2, 3, seed: 4);
        using Linear loaded = Layer(2, 3, seed: 6);

        saved.Save(path);
        loaded.Load(path);

        Assert.That(loaded.W.ToArray(), Is.EqualTo(saved.W.ToArray()));
    }

    [Test]
    public void SavingIntoAMissingFolderFailsAndWritesNothing()
    {
        using Linear layer = Layer(2, 3);
        var error = Assert.Throws<DirectoryNotFoundException>(() => layer.Save(Path.Combine(_folder, "missing", "lin.hdf")));
        Assert.That(error!.Message, Does.Contain($"the folder '{Path.Combine(_folder, "missing")}' does not exist"));
        Assert.That(Directory.GetFileSystemEntries(_folder), Is.Empty);
    }

    [TestCase("/sys")]  // read-only for every user, root too
    [TestCase("/proc")]
    public void AFolderThatTakesNoNewFilesIsNamed(string folder)
    {
        if (!Directory.Exists(folder))
        {
            Assert.Ignore($"No {folder} here.");
        }
        using Linear layer = Layer(2, 3);
        var error = Assert.Catch<Exception>(() => layer.Save(Path.Combine(folder, "lin.hdf")));
        Assert.That(error, Is.InstanceOf<IOException>().Or.InstanceOf<UnauthorizedAccessException>());
        Assert.That(error!.Message, Does.Contain($"the folder '{folder}' takes no new files"));
    }

    /// <summary>
    /// A folder the user may not write into is refused with <see cref="UnauthorizedAccessException"/>, as Save's
    /// documentation says, not with the <see cref="IOException"/> of a full disk. An immutable folder stands in for one,
    /// as it takes no new files even from root.
    /// </summary>
    [Test]
    [Platform("Linux")]
    public void AFolderThatMayNotBeWrittenIsRefusedAsUnauthorized()
    {
        string folder = Directory.CreateDirectory(Path.Combine(_folder, "locked")).FullName;
        if (!Run("chattr", "+i", folder))
            Assert.Ignore("chattr +i does not work here (it needs root and a file system that keeps the flag)");
        try
        {
            using Linear layer = Layer(2, 3);
            string path = Path.Combine(folder, "lin.hdf");

            var error = Assert.Throws<UnauthorizedAccessException>(() => layer.Save(path));

            Assert.That(error!.Message, Is.EqualTo($"Cannot save to '{path}': the folder '{folder}' takes no new files (a save writes a " +
                                                   "new file, then replaces the old one)."));
            Assert.That(Directory.GetFileSystemEntries(folder), Is.Empty);
        }
        finally
        {
            Run("chattr", "-i", folder);
        }
    }

    [Test]
    public void ASaveThatFailsLeavesTheOldFileAndNoTemporaryFile()
    {
        string path = Path.Combine(_folder, "lin.hdf");
        File.WriteAllText(path, "an older file");
        using Linear layer = Layer(2, 3, name: new string('x', 70_000));  // too long for an HDF5 link name

        var error = Assert.Throws<IOException>(() => layer.Save(path));

        Assert.That(error!.Message, Does.Contain("could not be written as HDF5"));
        Assert.That(File.ReadAllText(path), Is.EqualTo("an older file"));
        Assert.That(Directory.GetFileSystemEntries(_folder), Is.EqualTo(new[] { path }));
    }

    /// <summary>
    /// A device is written into, not replaced: renaming a new file over it put a regular file in place of the device,
    /// as it would have in place of /dev/null for root. A device of /dev/null's numbers, made in the test's folder,
    /// stands in for it.
    /// </summary>
    [Test]
    [Platform("Linux")]
    public void SavingToADeviceWritesIntoItAndLeavesItADevice()
    {
        string device = Path.Combine(_folder, "null");
        if (!Run("mknod", device, "c", "1", "3"))
            Assert.Ignore("mknod does not work here (it needs root)");
        using Linear layer = Layer(2, 3);

        layer.Save(device);

        Assert.That(new FileInfo(device).Length, Is.Zero, "still a device that keeps nothing, not a file of the parameters");
        Assert.That(Directory.GetFiles(_folder), Is.EqualTo(new[] { device }), "no temporary file left");
    }

    /// <summary>
    /// A socket cannot be opened as a file (as a shell's redirection cannot): it is refused, saying so, and left in its
    /// place; the system's words, "No such device or address", named neither.
    /// </summary>
    [Test]
    [Platform("Linux")]
    public void SavingToASocketIsRefusedAndLeavesIt()
    {
        string path = Path.Combine(_folder, "socket");
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix,
            System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        using Linear layer = Layer(2, 3);

        var error = Assert.Throws<IOException>(() => layer.Save(path));

        Assert.That(error!.Message, Is.EqualTo($"Cannot save to '{path}': it is a socket, which cannot be written as a file. Name a file, a device or a named pipe."));
        Assert.That(new FileInfo(path).Length, Is.Zero, "still the socket, not a file of the parameters");
        Assert.That(Directory.GetFileSystemEntries(_folder), Is.EqualTo(new[] { path }), "no temporary file left");
    }

    /// <summary>A socket is refused by Load as by Save, saying so; the system's words named neither.</summary>
    [Test]
    [Platform("Linux")]
    public void LoadingFromASocketIsRefusedSayingSo()
    {
        string path = Path.Combine(_folder, "socket");
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix,
            System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        using Linear layer = Layer(2, 3);

        var error = Assert.Throws<IOException>(() => layer.Load(path));

        Assert.That(error!.Message, Is.EqualTo($"Cannot load from '{path}': it is a socket, which cannot be read as a file. Name a file, a device or a named pipe."));
    }

    /// <summary>An empty file, stream or device is refused as empty; PureHDF's words were "Unable to read beyond the end of the stream".</summary>
    [Test]
    public void AnEmptyFileIsRefusedAsEmpty()
    {
        string path = Path.Combine(_folder, "empty.hdf");
        File.WriteAllBytes(path, []);
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(path), $"'{path}' is empty: it holds no saved parameters.");
        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream()), "the stream is empty: it holds no saved parameters.");
        if (OperatingSystem.IsLinux())
            AssertRefusedUnchanged(layer, () => layer.Load("/dev/null"), "'/dev/null' is empty: it holds no saved parameters.");
    }

    /// <summary>A named pipe takes the file as a redirection's would, for the reader at its other end.</summary>
    [Test]
    [Platform("Linux")]
    public void SavingToANamedPipeWritesTheFileToItsReader()
    {
        string pipe = Path.Combine(_folder, "pipe");
        Assume.That(Run("mkfifo", pipe), "mkfifo");
        using Linear saved = Layer(2, 3, seed: 1);
        Task<byte[]> reader = Task.Run(() => File.ReadAllBytes(pipe));

        saved.Save(pipe);

        Assert.That(reader.Wait(TimeSpan.FromMinutes(1)), Is.True, "the reader got to the end of its input");
        using Linear loaded = Layer(2, 3, seed: 2);
        loaded.Load(new MemoryStream(reader.Result));
        Assert.That(loaded.W.ToArray(), Is.EqualTo(saved.W.ToArray()));
        Assert.That(loaded.B!.ToArray(), Is.EqualTo(saved.B!.ToArray()));
        Assert.That(new FileInfo(pipe).Length, Is.Zero, "still a pipe, not a file of the parameters");
    }

    /// <summary>
    /// A pipe without a name, as /dev/stdout or a shell's &gt;(command) (/dev/fd/63) names one, is written into as well:
    /// its link in /proc leads to no file ("pipe:[1234]"), so it cannot be told apart once the link is followed.
    /// </summary>
    [Test]
    [Platform("Linux")]
    public void SavingToAPipeThroughItsLinkInProcWritesTheFileToItsReader()
    {
        using var pipe = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.In);
        string writeEnd = $"/proc/self/fd/{pipe.GetClientHandleAsString()}";
        Assume.That(File.Exists(writeEnd), "/proc is mounted");
        Task<byte[]> reader = Task.Run(() =>
        {
            var bytes = new MemoryStream();
            pipe.CopyTo(bytes);
            return bytes.ToArray();
        });
        using Linear saved = Layer(2, 3, seed: 1);

        try
        {
            saved.Save(writeEnd);
        }
        finally
        {
            pipe.DisposeLocalCopyOfClientHandle();  // the reader's input ends once Save has closed its own copy
        }

        Assert.That(reader.Wait(TimeSpan.FromMinutes(1)), Is.True, "the reader got to the end of its input");
        using Linear loaded = Layer(2, 3, seed: 2);
        loaded.Load(new MemoryStream(reader.Result));
        Assert.That(loaded.W.ToArray(), Is.EqualTo(saved.W.ToArray()));
        Assert.That(loaded.B!.ToArray(), Is.EqualTo(saved.B!.ToArray()));
    }

    /// <summary>A named pipe (a shell's &lt;(command), /dev/stdin) loads as a file does, although it cannot seek.</summary>
    [Test]
    [Platform("Linux")]
    public void LoadingFromANamedPipeReadsWhatItsWriterSends()
    {
        string pipe = Path.Combine(_folder, "pipe");
        Assume.That(Run("mkfifo", pipe), "mkfifo");
        byte[] file = File.ReadAllBytes(DataFile("linear-2x3-lin.hdf"));
        Task writer = Task.Run(() => File.WriteAllBytes(pipe, file));
        using Linear layer = Layer(2, 3);

        layer.Load(pipe);

        Assert.That(writer.Wait(TimeSpan.FromMinutes(1)), Is.True, "the writer finished");
        Assert.That(layer.W.ToArray(), Is.EqualTo(FileW));
        Assert.That(layer.B!.ToArray(), Is.EqualTo(FileB));
    }

    [Test]
    public void SavingToAWriteOnlyStreamWritesTheWholeFile()
    {
        // File.OpenWrite's stream cannot be read, which PureHDF needs of the stream it writes into.
        string path = Path.Combine(_folder, "lin.hdf");
        using Linear saved = Layer(2, 3, seed: 1);
        using (FileStream stream = File.OpenWrite(path))
            saved.Save(stream);

        using Linear loaded = Layer(2, 3, seed: 2);
        loaded.Load(path);
        Assert.That(loaded.W.ToArray(), Is.EqualTo(saved.W.ToArray()));
        Assert.That(loaded.B!.ToArray(), Is.EqualTo(saved.B!.ToArray()));
    }

    private static bool Run(string command, params string[] args)
    {
        try
        {
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(command, args)
            {
                RedirectStandardError = true,
            })!;
            process.WaitForExit();
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;  // no such command
        }
    }

    [Test]
    public void SavingAndLoadingLogTheFileAndTheCount()
    {
        var logger = new ListLogger();
        using var layer = new Linear(2, 3, device: TestDevice, name: "lin", logger: logger);
        string path = Path.Combine(_folder, "lin.hdf");

        layer.Save(path);
        layer.Load(path);

        Assert.That(logger.Messages, Has.Some.EndsWith($"parameters saved to {path} (count: 2)"));
        Assert.That(logger.Messages, Has.Some.EndsWith($"parameters loaded from {path} (count: 2)"));
    }

    /// <summary>A save into a device (or a pipe) is logged as well, as written into it rather than saved as a file.</summary>
    [Test]
    [Platform("Linux")]
    public void SavingIntoADeviceLogsTheDeviceAndTheCount()
    {
        string device = Path.Combine(_folder, "null");
        if (!Run("mknod", device, "c", "1", "3"))
            Assert.Ignore("mknod does not work here (it needs root)");
        var logger = new ListLogger();
        using var layer = new Linear(2, 3, device: TestDevice, name: "lin", logger: logger);

        layer.Save(device);

        Assert.That(logger.Messages, Has.Some.EndsWith($"parameters written to {device} (count: 2)"));
    }

    private sealed class ListLogger : Microsoft.Extensions.Logging.ILogger
    {
        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId,
            TState state, Exception? exception, Func<TState, Exception?, string> formatter) => Messages.Add(formatter(state, exception));
    }

    [Test]
    public void AFolderIsNotAParameterFile()
    {
        string folder = Directory.CreateDirectory(Path.Combine(_folder, "lin.hdf")).FullName;
        using Linear layer = Layer(2, 3);

        var save = Assert.Throws<ArgumentException>(() => layer.Save(folder));
        var load = Assert.Throws<ArgumentException>(() => layer.Load(folder));

        Assert.That(save!.Message, Does.Contain("is a folder, not a file"));
        Assert.That(load!.Message, Does.Contain("is a folder, not a file"));
        Assert.That(Directory.GetFileSystemEntries(_folder), Is.EqualTo(new[] { folder }));
    }

    [Test]
    public void ADatasetWhoseValuesDisagreeWithItsDimensionsIsRefused()
    {
        using Linear saved = Layer(3, 2, seed: 3);
        byte[] file = SavedBytes(saved);
        // b's dataspace message (header: type 1, 12 bytes; body: version 2, rank 1, flags 0, type simple): typed
        // scalar instead, it still lists the dimension [2], so the file says [2] while its data reads as one value.
        // W (rank 2) comes first and fits.
        byte[] rankOneSpace = [0x01, 0x0C, 0x00, 0x00, 0x02, 0x01, 0x00, 0x01];
        int at = IndexOf(file, rankOneSpace);
        file[at + 7] = 0x00;
        ResealHeader(file, at);  // as a writer that wrote it so would: past the checksum
        using Linear layer = Layer(3, 2, seed: 4);

        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            "parameter 'b' of Linear 'lin' holds 1 values there, not the 2 of its shape [2]");
    }

    [Test]
    public void CompactValuesShorterThanTheirShapeAreRefused()
    {
        // Save keeps small values in the dataset's header (compact layout): layout message version 4, class
        // compact, a 2-byte size, then the values. With the size shrunk, PureHDF reads what is there and
        // leaves the rest of its buffer as it was: zeros, had it not been checked.
        using Linear saved = Layer(2, 3, seed: 3);
        byte[] file = SavedBytes(saved);
        byte[] w = AsBytes(saved.W.ToArray());
        int at = IndexOf(file, [0x04, 0x00, (byte)w.Length, 0x00, .. w]);
        file[at + 2] -= 4;  // one float short
        ResealHeader(file, at);  // as a writer that wrote it so would: past the checksum
        using Linear layer = Layer(2, 3, seed: 4);

        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            "parameter 'W' of Linear 'lin' lacks values there (its data is shorter than its 6 values): the file is damaged");
    }

    [Test]
    public void ALinkWithoutItsValueIsRefused()
    {
        // Links are compact scalars too: 'pair.c' (1) with its size cleared would read as 0 and load 'a' into 'c'.
        using var saved = new SameShapes(TestDevice, [1f, 2f], [3f, 4f]);
        byte[] file = SavedBytes(saved);
        int at = IndexOf(file, [0x04, 0x00, 0x08, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0]);
        file[at + 2] = 0;
        ResealHeader(file, at);
        using var module = new SameShapes(TestDevice, [5f, 6f], [7f, 8f]);

        var error = Assert.Throws<InvalidDataException>(() => module.Load(new MemoryStream(file)));

        Assert.That(error!.Message, Does.Contain("the link 'pair.c' lacks values there"));
        Assert.That(module.C.ToArray(), Is.EqualTo(new[] { 7f, 8f }), "nothing loaded");
    }

    /// <summary>A module with two parameters of one shape, 'a' and 'c'.</summary>
    private sealed class SameShapes(Device device, float[] a, float[] c) : Module(device, "pair", null)
    {
        private readonly Parameter _a = new("a", Tensor.FromArray(device, a), Tensor.FromArray(device, new float[a.Length]));
        private readonly Parameter _c = new("c", Tensor.FromArray(device, c), Tensor.FromArray(device, new float[c.Length]));
        public Tensor C => _c.Value;
        public override IEnumerable<Parameter> Parameters => [_a, _c];
        protected override void ValidateInput(Tensor input) { }
        protected override Tensor ForwardCore(Tensor input) => input;
        protected override Tensor? BackwardCore(Tensor input, Tensor grad, bool updGrad, bool accumulate) => grad;

        protected override void Dispose(bool disposing)
        {
            foreach (Parameter parameter in Parameters)
            {
                parameter.Value.Dispose();
                parameter.Grad.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    [Test]
    public void AChangedValueInAHeaderIsRefusedByItsChecksum()
    {
        // Small values lie in their dataset's object header, whose checksum PureHDF does not check.
        using Linear saved = Layer(2, 3, seed: 3);
        byte[] file = SavedBytes(saved);
        int at = IndexOf(file, AsBytes(saved.W.ToArray()));
        file[at + 1] ^= 0x01;  // W[0] changes in its low bits
        using Linear layer = Layer(2, 3, seed: 4);

        var error = AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)), "the stream is damaged: the checksum of its object header at byte");
        Assert.That(error.Message, Does.Contain("does not match its contents"));
    }

    [TestCase(8191, true)]  // 32764 bytes of W: in its dataset's header (compact), under its checksum
    [TestCase(8192, false)]  // 32 KB: stored apart (contiguous), under no checksum, as the README says
    public void SaveKeepsAParameterOfLessThan32KbUnderAChecksum(int inSize, bool checksummed)
    {
        using var saved = new Linear(inSize, 1, seed: 3, device: TestDevice, name: "lin");
        byte[] file = SavedBytes(saved);
        float[] w = saved.W.ToArray();
        int at = IndexOf(file, AsBytes(w[100..104]));
        file[at] ^= 0x01;  // W[100] changes in its low bits
        using var layer = new Linear(inSize, 1, seed: 4, device: TestDevice, name: "lin");

        if (checksummed)
        {
            var error = Assert.Throws<InvalidDataException>(() => layer.Load(new MemoryStream(file)));
            Assert.That(error!.Message, Does.Contain("does not match its contents"));
        }
        else
        {
            layer.Load(new MemoryStream(file));
            Assert.That(layer.W.ToArray()[100], Is.Not.EqualTo(w[100]), "the changed value loads");
        }
    }

    [Test]
    public void EveryByteOfASavedFileIsChecked()
    {
        // Every byte of what Save writes lies in the superblock or an object header, each checksummed:
        // a file with any one byte changed is refused, and reading it allocates no more than a few times
        // its size (a damaged length once made PureHDF allocate 2 GB).
        using Linear saved = Layer(2, 3, seed: 3);
        byte[] file = SavedBytes(saved);
        using Linear layer = Layer(2, 3, seed: 4);
        float[] w = layer.W.ToArray(), b = layer.B!.ToArray();
        var loaded = new List<int>();
        long most = 0;
        for (int at = 0; at < file.Length; at++)
        {
            foreach (byte value in new byte[] { 0x00, 0x7F, 0x80, 0xFF })
            {
                if (file[at] == value)
                {
                    continue;
                }
                byte[] damaged = (byte[])file.Clone();
                damaged[at] = value;
                long before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    layer.Load(new MemoryStream(damaged));
                    loaded.Add(at);
                }
                catch (InvalidDataException)
                {
                }
                most = Math.Max(most, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        }
        Assert.Multiple(() =>
        {
            Assert.That(loaded, Is.Empty, "offsets whose change was loaded");
            Assert.That(most, Is.LessThan(1 << 20), "the most bytes one load allocated");
            Assert.That(layer.W.ToArray(), Is.EqualTo(w));
            Assert.That(layer.B!.ToArray(), Is.EqualTo(b));
        });
    }

    [Test]
    public void ATruncatedFileIsSaidToBe()
    {
        using Linear saved = Layer(2, 3, seed: 3);
        byte[] file = SavedBytes(saved);
        using Linear layer = Layer(2, 3, seed: 4);

        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file[..^1])),
            $"the stream is damaged: it is truncated: its superblock says it ends at byte {file.Length}, but it holds {file.Length - 1} bytes");
        for (int length = 0; length < file.Length; length++)
        {
            AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file[..length])), "the stream");
        }
    }

    [TestCase("linear-2x3-lin.hdf")]  // PuzzleLib's files, of the earliest format, have no checksums
    public void ATruncatedFileOfTheEarliestFormatIsSaidToBe(string name)
    {
        byte[] file = File.ReadAllBytes(DataFile(name));
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file[..^1])),
            $"it is truncated: its superblock says it ends at byte {file.Length}, but it holds {file.Length - 1} bytes");
    }

    // Written by HDF5's own library (h5py), not by PureHDF as Save's files are: their checksums are HDF5's.
    [TestCase("linear-2x3-lin-newer-format.hdf")]  // with creation order tracked: 6-byte message headers
    [TestCase("linear-2x3-lin-newer-format-lengths4.hdf")]  // addresses of 8 bytes, lengths of 4
    public void AFileHdf5WroteInTheNewerFormatLoads(string name)
    {
        using Linear layer = Layer(2, 3);

        layer.Load(DataFile(name));

        Assert.That(layer.W.ToArray(), Is.EqualTo(FileW));
        Assert.That(layer.B!.ToArray(), Is.EqualTo(FileB));
    }

    [TestCase("linear-2x3-lin-newer-format.hdf")]
    [TestCase("linear-2x3-lin-newer-format-lengths4.hdf")]
    public void EveryObjectHeaderAndContinuationBlockOfAFileHdf5WroteIsChecked(string name)
    {
        // Each header's attributes outgrew it and continue in a continuation block ("OCHK"), which its
        // continuation message gives as an address and a length (of the file's sizes of addresses and of lengths).
        byte[] file = File.ReadAllBytes(DataFile(name));
        var blocks = Enumerable.Range(0, file.Length - 4)
            .Where(i => file.AsSpan(i, 4).SequenceEqual("OHDR"u8) || file.AsSpan(i, 4).SequenceEqual("OCHK"u8)).ToList();
        Assert.That(blocks.Count(i => file[i + 1] == (byte)'C'), Is.GreaterThan(0), "the file has continuation blocks");
        using Linear layer = Layer(2, 3);

        Assert.Multiple(() =>
        {
            foreach (int at in blocks)
            {
                byte[] damaged = (byte[])file.Clone();
                damaged[at + 8] ^= 0x01;  // a byte of its first message
                string block = $"{(file[at + 1] == 'C' ? "continuation block" : "object header")} at byte {at}";
                var error = Assert.Throws<InvalidDataException>(() => layer.Load(new MemoryStream(damaged)), block);
                Assert.That(error?.Message, Does.Contain("does not match its contents"), block);
            }
        });
    }

    [TestCase(16, 8)]
    [TestCase(8, 16)]
    public void AnIntactFileOfSizesPureHdfDoesNotReadIsNotCalledDamaged(int addressSize, int lengthSize)
    {
        // HDF5 allows addresses and lengths of 16 bytes, which PureHDF does not read. A superblock (version 2:
        // signature, version, the two sizes, flags, four addresses and its checksum) whose checksum matches is intact.
        var superblock = new List<byte> { 0x89, (byte)'H', (byte)'D', (byte)'F', 0x0D, 0x0A, 0x1A, 0x0A, 2 };
        superblock.AddRange([(byte)addressSize, (byte)lengthSize, 0]);
        int length = 12 + 4 * addressSize + 4;
        superblock.AddRange(new byte[addressSize]);  // base address
        superblock.AddRange(Enumerable.Repeat((byte)0xFF, addressSize));  // no superblock extension
        superblock.AddRange(BitConverter.GetBytes((long)length).Concat(new byte[addressSize - 8]));  // end of file
        superblock.AddRange(new byte[addressSize]);  // root group
        byte[] file = [.. superblock, .. BitConverter.GetBytes(MetadataChecksums.Lookup3(superblock.ToArray()))];
        Assert.That(file, Has.Length.EqualTo(length));
        using Linear layer = Layer(2, 3);

        var error = AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)), "the stream could not be read as a parameter file");
        Assert.That(error.Message, Does.Not.Contain("damaged"));

        file[9] = 4;  // a changed size: its checksum tells
        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            "the stream is damaged: the checksum of its superblock does not match its contents");
    }

    [Test]
    public void ContiguousValuesThatWereNeverWrittenAreRefused()
    {
        // A contiguous dataset without an address has no storage: PureHDF reads it as the fill value (zeros).
        var values = new H5Group { ["0"] = new H5Dataset(FileW, fileDims: [2, 3]), ["1"] = new H5Dataset(FileB) };
        var bytes = new MemoryStream();
        new H5File { ["params"] = values, ["links"] = new H5Group { ["lin.W"] = 0L, ["lin.b"] = 1L } }
            .Write(bytes, new H5WriteOptions(PreferCompactDatasetLayout: false));
        byte[] file = bytes.ToArray();
        // Layout message version 4, class contiguous, an 8-byte address, then the 8-byte size: 24 bytes for W.
        int at = Enumerable.Range(0, file.Length - 18)
            .Single(i => file[i] == 0x04 && file[i + 1] == 0x01 && BitConverter.ToUInt64(file, i + 10) == sizeof(float) * 6);
        file.AsSpan(at + 2, 8).Fill(0xFF);  // the undefined address
        ResealHeader(file, at);
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            "parameter 'W' of Linear 'lin' has no values in the file (its storage was never written");
    }

    [Test]
    public void ChunkedValuesWithAChunkNeverWrittenAreRefused()
    {
        // HDF5 reads a chunk that a file does not hold as the fill value; a parameter file holds every value.
        string path = Path.Combine(_folder, "partial.hdf");
        var w = new H5Dataset<float[]>(fileDims: [2, 3], chunks: [1, 3],
            datasetCreation: new H5DatasetCreation(Filters: [new H5Filter(DeflateFilter.Id)]));
        var file = new H5File
        {
            ["params"] = new H5Group { ["0"] = w, ["1"] = new H5Dataset(FileB) },
            ["links"] = new H5Group { ["lin.W"] = 0L, ["lin.b"] = 1L },
        };
        using (var writer = file.BeginWrite(path))
        {
            // Only W's first row, its first chunk.
            writer.Write(w, FileW[..3], fileSelection: new HyperslabSelection(rank: 2, starts: [0, 0], blocks: [1, 3]));
        }
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(path),
            "parameter 'W' of Linear 'lin' is incomplete there: 1 of its chunks are not in the file");
    }

    [Test]
    public void AChunkThatInflatesShortIsRefused()
    {
        // W in two deflated chunks of one row; the first row's chunk replaced by the deflated first two values
        // (the index keeps the old size, and zlib ignores what follows its stream's end).
        var values = new H5Group
        {
            ["0"] = new H5Dataset(FileW, chunks: [1, 3], fileDims: [2, 3],
                datasetCreation: new H5DatasetCreation(Filters: [new H5Filter(DeflateFilter.Id)])),
            ["1"] = new H5Dataset(FileB),
        };
        var bytes = new MemoryStream();
        new H5File { ["params"] = values, ["links"] = new H5Group { ["lin.W"] = 0L, ["lin.b"] = 1L } }.Write(bytes);
        byte[] file = bytes.ToArray();
        byte[] row = Deflated(AsBytes(FileW[..3])), shorter = Deflated(AsBytes(FileW[..2]));
        Assert.That(shorter.Length, Is.LessThanOrEqualTo(row.Length));
        int at = IndexOf(file, row);
        file.AsSpan(at, row.Length).Clear();
        shorter.CopyTo(file, at);
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            "parameter 'W' of Linear 'lin' is incomplete there: 1 of its chunks hold another size than 12 bytes");
    }

    private static byte[] Deflated(byte[] data)
    {
        var compressed = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.Optimal))
        {
            zlib.Write(data);
        }
        return compressed.ToArray();
    }

    /// <summary>
    /// Where a data layout message of version 3 (chunked, 3 dimensions: two of chunk size and the values' size, after
    /// the chunk index's 8-byte address) gives <paramref name="sizes"/>, 4 bytes each: the place of its first.
    /// </summary>
    private static int ChunkSizesAt(byte[] file, byte[] sizes) =>
        Enumerable.Range(11, file.Length - 11 - sizes.Length)
            .Single(i => file[i - 11] == 3 && file[i - 10] == 2 && file[i - 9] == 3 && file.AsSpan(i, sizes.Length).SequenceEqual(sizes));

    [Test]
    public void AChunkLargerThanItsDatasetIsRefusedBeforeItIsRead()
    {
        // PuzzleLib's file, without checksums: W's layout message (version 3, chunked, 3 dimensions, the
        // chunk index's address) gives chunks of 2 x 3 float32 values; damaged, 2 x 16777219 (134 MB).
        byte[] file = File.ReadAllBytes(DataFile("linear-2x3-lin.hdf"));
        int at = ChunkSizesAt(file, [2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]);
        file[at + 7] = 0x01;
        using Linear layer = Layer(2, 3);

        long before = GC.GetAllocatedBytesForCurrentThread();
        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            "parameter 'W' of Linear 'lin' is stored in chunks of [2x16777219], which do not fit its shape [2x3]: the file is damaged");
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(1 << 24), "bytes allocated");
    }

    [Test]
    public void AChunkLargerThanItsFileCanHoldIsRefusedBeforeItIsRead()
    {
        // W's rows may grow, so no chunk size is too tall for its shape: its chunks of 262144 x 1 float32 values (1 MB,
        // deflated into this 28 KB file) damaged to 134217728 x 1 (512 MB), which no deflated chunk of a file of 28 KB
        // can hold. PureHDF allocated each chunk before it read it: 29 s and 5.4 GB for this file, to no avail.
        byte[] file = File.ReadAllBytes(DataFile("linear-2x16-lin-tall-chunks.hdf"));
        int at = ChunkSizesAt(file, [0, 0, 4, 0, 1, 0, 0, 0, 4, 0, 0, 0]);
        file[at + 2] = 0;
        file[at + 3] = 0x08;
        using Linear layer = Layer(2, 16);

        long before = GC.GetAllocatedBytesForCurrentThread();
        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            $"parameter 'W' of Linear 'lin' is stored in chunks of [134217728x1], {512 << 20} bytes each: more than a file of " +
            $"{file.Length} bytes can hold, even compressed. The file is damaged");
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(1 << 24), "bytes allocated");
    }

    [Test]
    public void ChunksStoredWithoutFiltersLoad()
    {
        // PuzzleLib's file as HDF5 writes chunks without filters: each chunk holds its values as they are, the chunk
        // index gives it the full size of a chunk, and the filter pipeline message is blanked to a NIL message (type 0).
        byte[] file = File.ReadAllBytes(DataFile("linear-2x3-lin.hdf"));
        foreach ((int dataset, float[] values) in new[] { (0, FileW), (1, FileB) })
        {
            (int sizeAt, long address) = ChunkEntry(file, dataset);
            byte[] raw = AsBytes(values);
            Assert.That(raw, Has.Length.LessThanOrEqualTo(BitConverter.ToInt32(file, sizeAt)), "the values fit where the compressed ones lie");
            raw.CopyTo(file, address);
            BitConverter.TryWriteBytes(file.AsSpan(sizeAt, 4), raw.Length);
            file[FilterPipelineMessage(file, dataset)] = 0;
        }
        using Linear layer = Layer(2, 3);

        layer.Load(new MemoryStream(file));

        Assert.That(layer.W.ToArray(), Is.EqualTo(FileW));
        Assert.That(layer.B!.ToArray(), Is.EqualTo(FileB));
    }

    [Test]
    public void ChunksCheckedByFletcher32AloneLoadTheirOwnValues()
    {
        // h5py's fletcher32=True without compression; W in three chunks of one column, each spanning both rows. PureHDF
        // gives such a chunk as a slice of a pooled buffer that the next chunk read reuses: W's second row loaded the
        // last chunk's value (1.25 in place of 0.75, first), without an error.
        using Linear layer = Layer(2, 3);

        layer.Load(DataFile("linear-2x3-lin-fletcher32.hdf"));

        Assert.That(layer.W.ToArray(), Is.EqualTo(FileW));
        Assert.That(layer.B!.ToArray(), Is.EqualTo(FileB));
    }

    [TestCase("linear-2x3-lin.hdf", 0, 0, "W", 24)]
    [TestCase("linear-2x3-lin.hdf", 0, 1, "b", 12)]
    [TestCase("linear-2x3-lin-user-block-1024.hdf", 1024, 0, "W", 24)]  // chunk addresses count from byte 1024
    public void CompressedChunksWhoseFilterPipelineIsLostAreRefused(string name, int userBlock, int dataset, string parameter, int chunkBytes)
    {
        // Without its filter pipeline message (blanked to a NIL message), PureHDF read a chunk at the full size of a
        // chunk, whatever size the chunk index gives, and loaded the gzip-compressed bytes as values.
        byte[] file = File.ReadAllBytes(DataFile(name));
        file[FilterPipelineMessage(file, dataset)] = 0;
        (int sizeAt, long address) = ChunkEntry(file, dataset);
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            $"the stream: parameter '{parameter}' of Linear 'lin' is stored without filters, in chunks of {chunkBytes} bytes, " +
            $"but its chunk index gives the chunk at byte {userBlock + address} {BitConverter.ToInt32(file, sizeAt)} bytes");
    }

    [Test]
    public void AChunkThatRunsPastTheEndOfTheFileIsRefusedBeforeItIsRead()
    {
        // W's chunk: 25 bytes of gzip by its chunk index; damaged, 2130706457 bytes, which PureHDF allocated before it read them.
        byte[] file = File.ReadAllBytes(DataFile("linear-2x3-lin.hdf"));
        (int sizeAt, long address) = ChunkEntry(file, 0);
        file[sizeAt + 3] = 0x7F;
        using Linear layer = Layer(2, 3);

        long before = GC.GetAllocatedBytesForCurrentThread();
        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            $"parameter 'W' of Linear 'lin' has a chunk of {BitConverter.ToUInt32(file, sizeAt)} bytes at byte {address} by its " +
            $"chunk index, which runs past the end of the file ({file.Length} bytes): the file is damaged");
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(1 << 24), "bytes allocated");
    }

    // PuzzleLib's file, of the earliest format (no checksums), with one byte set to 0x7F: the highest byte of a size that
    // PureHDF allocated before it read that many bytes (2 GB, then "Unable to read beyond the end of the stream"; under a
    // container's memory limit, an OutOfMemoryException that did not say the file is damaged).
    [TestCase(691, "its local heap at byte 680 gives 2130706520 bytes of names at byte 712")]  // the root group's names
    [TestCase(1395, "its local heap at byte 1384 gives 2130706520 bytes of names at byte 1416")]  // those of 'params'
    [TestCase(2427, "its local heap at byte 2416 gives 2130706520 bytes of names at byte 2448")]  // those of 'links'
    [TestCase(2647, "its object header at byte 2536 gives a fill value of 2130706432 bytes")]  // params/0's (W's) fill value
    [TestCase(8495, "its object header at byte 8400 gives a fill value of 2130706432 bytes")]  // params/1's (b's)
    [TestCase(7871, "its object header at byte 7800 gives a fill value of 2130706432 bytes")]  // links/lin.W's
    [TestCase(10839, "its object header at byte 10768 gives a fill value of 2130706432 bytes")]  // links/lin.b's
    // b's dataspace message, of 127 bytes in place of 24: PureHDF read the messages after it from the middle of another
    [TestCase(8418, "its object header at byte 8400 has a message of 127 bytes at byte 8416")]
    public void ASizeInAFileOfTheEarliestFormatThatTheFileCannotHoldIsRefusedBeforeItIsAllocated(int at, string problem) =>
        AssertRefusedWithOneByteSet("linear-2x3-lin.hdf", at, problem);

    // h5py's track_order=True in the earliest format: the groups' object headers are of the newer format (root at byte 96,
    // 'params' at 347, 'links' at 598), under checksums, and the datasets' of the earlier one, below them. Damage in either
    // went unseen: the walk of the earlier format stopped at the root's header.
    [TestCase(960, "its object header at byte 849 gives a fill value of 2130706432 bytes")]  // params/0's (W's) fill value
    [TestCase(6152, "its object header at byte 6057 gives a fill value of 2130706432 bytes")]  // params/1's (b's)
    [TestCase(6075, "its object header at byte 6057 has a message of 127 bytes at byte 6073")]  // b's dataspace message
    [TestCase(690, "the checksum of its object header at byte 598 does not match its contents")]  // 'links': "lin.W" as "lin.\x7F"
    public void DamageBelowAGroupThatKeepsItsLinksInCreationOrderIsRefused(int at, string problem) =>
        AssertRefusedWithOneByteSet("linear-2x3-lin-track-order.hdf", at, problem);

    /// <summary>Loads the data file <paramref name="name"/> with its byte at <paramref name="at"/> set to 0x7F: refused as damaged, saying <paramref name="problem"/>, having allocated little.</summary>
    private void AssertRefusedWithOneByteSet(string name, int at, string problem)
    {
        byte[] file = File.ReadAllBytes(DataFile(name));
        file[at] = 0x7F;
        using Linear layer = Layer(2, 3);

        long before = GC.GetAllocatedBytesForCurrentThread();
        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)), $"the stream is damaged: {problem}");
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(64 << 20), "bytes allocated");
    }

    /// <summary>
    /// HDF5 lets a file of the earliest format have addresses and lengths of different sizes; PureHDF misreads such a
    /// file's symbol table entries, and refused it with "Specified method is not supported".
    /// </summary>
    [Test]
    public void AFileOfTheEarliestFormatWithAddressesAndLengthsOfDifferentSizesIsRefusedSayingSo()
    {
        using Linear layer = Layer(2, 3);
        string path = DataFile("linear-2x3-lin-sizes-4-8.hdf");

        AssertRefusedUnchanged(layer, () => layer.Load(path),
            $"'{path}' cannot be read: it is of HDF5's earliest format with addresses of 4 bytes and lengths of 8");
    }

    /// <summary>
    /// The shuffle filter's element size (its first client data value, which HDF5 sets to the values' size) changed:
    /// PureHDF, as HDF5 would, then reordered the bytes of every value by the wrong size, and loaded wrong values without
    /// an error.
    /// </summary>
    [TestCase(2680, 1, "2536", "W")]
    [TestCase(2680, 8, "2536", "W")]
    [TestCase(8528, 2, "8400", "b")]
    public void AShuffleFilterForAnotherSizeThanTheValuesIsRefused(int at, byte size, string header, string parameter)
    {
        byte[] file = File.ReadAllBytes(DataFile("linear-2x3-lin-shuffle.hdf"));
        Assert.That(file.AsSpan(at - 16, 20).ToArray(), Is.EqualTo("\u0002\0\b\0\u0001\0\u0001\0shuffle\0\u0004\0\0\0"u8.ToArray()),
            $"{parameter}'s shuffle filter (identifier 2, one client data value: 4 bytes a value)");
        file[at] = size;
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            $"the stream is damaged: its object header at byte {header} gives a shuffle filter for elements of {size} bytes, but values of 4 bytes");
    }

    [Test]
    public void AnAttributeOfMoreValuesThanItsMessageHoldsIsRefusedBeforeItIsAllocated()
    {
        // W's object header (version 1, at byte 2536) ends in a NIL message of 80 bytes, here made an attribute message
        // (type 0x0C, version 1): the sizes of its name (2), datatype (12) and dataspace (16), the name "a", a one-byte
        // integer type, and a dataspace of one dimension that claims 0x7F000000 values. PureHDF allocates the values (2 GB)
        // before it reads them.
        byte[] file = File.ReadAllBytes(DataFile("linear-2x3-lin.hdf"));
        Assert.That(BitConverter.ToUInt16(file, 2720), Is.EqualTo(0), "a NIL message");
        Assert.That(BitConverter.ToUInt16(file, 2722), Is.EqualTo(80));
        byte[] attribute =
        [
            1, 0, 2, 0, 12, 0, 16, 0, .. "a\0"u8, 0, 0, 0, 0, 0, 0,
            0x10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0,
            1, 1, 0, 0, 0, 0, 0, 0, .. BitConverter.GetBytes(0x7F000000L),
        ];
        file[2720] = 0x0C;
        attribute.CopyTo(file, 2728);
        using Linear layer = Layer(2, 3);

        long before = GC.GetAllocatedBytesForCurrentThread();
        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            "the stream is damaged: its object header at byte 2536 has an attribute of 2130706432 values of 1 bytes, more than its message of 80 bytes holds");
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(64 << 20), "bytes allocated");
    }

    [Test]
    public void AnObjectHeaderThatContinuesInALoopIsRefused()
    {
        // W's object header (version 1, at byte 2536) ends in a NIL message of 80 bytes, here made a continuation message
        // (type 0x10) that gives the header's own messages (256 bytes from byte 2552) as its next block. PureHDF reads a
        // continuation block within its reading of the block before, so it read that block again and again until the stack
        // overflowed, which ends the process.
        byte[] file = File.ReadAllBytes(DataFile("linear-2x3-lin.hdf"));
        Assert.That(BitConverter.ToUInt16(file, 2720), Is.EqualTo(0), "a NIL message");
        Assert.That(BitConverter.ToUInt16(file, 2722), Is.EqualTo(80));
        file[2720] = 0x10;
        BitConverter.TryWriteBytes(file.AsSpan(2728, 8), 2552L);
        BitConverter.TryWriteBytes(file.AsSpan(2736, 8), 256L);
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            "the stream is damaged: its object header at byte 2536 continues at byte 2552, which another continuation message already gave");
    }

    [Test]
    public void AGroupsBTreeNodeThatListsItselfIsRefused()
    {
        // The B-tree of 'params' is one leaf (at byte 840): "TREE", node type 0 (groups), level 0, 1 entry, two sibling
        // addresses, then a key, the address of the symbol table node, and a key. Made a node of level 1 that lists itself,
        // PureHDF looked for a name in it, found the name's node to be itself, and looked again, until the stack overflowed,
        // which ends the process.
        byte[] file = File.ReadAllBytes(DataFile("linear-2x3-lin.hdf"));
        Assert.That(file.AsSpan(840, 4).SequenceEqual("TREE"u8) && file[845] == 0 && BitConverter.ToUInt16(file, 846) == 1, "a leaf of one entry");
        file[845] = 1;
        BitConverter.TryWriteBytes(file.AsSpan(840 + 24 + 8, 8), 840L);
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            "the stream is damaged: its B-tree node at byte 840 lists the node at byte 840, which the B-tree already holds");
    }

    [Test]
    public void AGroupWhoseBTreeHasTwoLevelsLoads()
    {
        // h5py writes a group of more than a few dozen links as a B-tree of more than one level. Here the B-tree of 'params'
        // (one leaf at byte 840, of one entry) gets a root of level 1 above it, appended to the file: "TREE", node type 0,
        // level 1, 1 entry, no siblings, then the leaf's first key, the leaf's address and its last key. The group's symbol
        // table message (in its header) and the scratch pad of its entry in the root group give the new root.
        byte[] file = File.ReadAllBytes(DataFile("linear-2x3-lin.hdf"));
        const int leaf = 840;
        int[] pointers = Enumerable.Range(0, file.Length - 8).Where(i => BitConverter.ToInt64(file, i) == leaf).ToArray();
        Assert.That(pointers, Is.EqualTo(new[] { 824, 1576 }), "the symbol table message's and the scratch pad's B-tree address");
        byte[] root =
        [
            .. "TREE"u8, 0, 1, 1, 0, .. Enumerable.Repeat((byte)0xFF, 16),
            .. file.AsSpan(leaf + 24, 8), .. BitConverter.GetBytes((long)leaf), .. file.AsSpan(leaf + 40, 8),
        ];
        byte[] twoLevels = [.. file, .. root];
        foreach (int at in pointers)
        {
            BitConverter.TryWriteBytes(twoLevels.AsSpan(at, 8), (long)file.Length);
        }
        using Linear layer = Layer(2, 3);

        layer.Load(new MemoryStream(twoLevels));

        Assert.That(layer.W.ToArray(), Is.EqualTo(FileW));
        Assert.That(layer.B!.ToArray(), Is.EqualTo(FileB));
    }

    [Test]
    public void InAFileOfTheEarliestFormatAChunkReadThatNoChunkIndexGaveIsRefused()
    {
        // ChunkIndex sees the leaves of the index where PureHDF seeks to them. In the earliest format, once a node of the
        // index is read, a chunk read that no leaf gave (were PureHDF to read the nodes without seeking) is refused.
        byte[] bytes = File.ReadAllBytes(DataFile("linear-2x3-lin.hdf"));
        (int sizeAt, long address) = ChunkEntry(bytes, 0);
        int stored = BitConverter.ToInt32(bytes, sizeAt);
        using var file = new MemoryStream(bytes);
        ChunkIndex index = ChunkIndex.For(file, rank: 2, "W", "the file")!;
        long leaf = sizeAt - 24;

        Assert.DoesNotThrow(() => index.ReadsChunk(address, stored), "no node read: another kind of chunk index");
        index.ReadsMetadata(leaf);
        var error = Assert.Throws<InvalidDataException>(() => index.ReadsChunk(address, stored));
        Assert.That(error!.Message, Does.Contain($"W is read at byte {address}, where its chunk index gives no chunk"));

        index.Sought(leaf);
        index.ReadsMetadata(leaf);
        Assert.DoesNotThrow(() => index.ReadsChunk(address, stored));
        error = Assert.Throws<InvalidDataException>(() => index.ReadsChunk(address, 24));
        Assert.That(error!.Message, Does.Contain($"gives the chunk at byte {address} {stored} bytes"));
    }

    /// <summary>
    /// A chunk index that gives a chunk beyond the end of the file is refused by what it gives, before PureHDF reads it:
    /// by an address past the end, and, in a file with a user block, by a size that runs past the end by less than the
    /// user block (chunk addresses count from the superblock, which lies after it).
    /// </summary>
    [TestCase("linear-2x3-lin.hdf", 0, true)]
    [TestCase("linear-2x3-lin-user-block-1024.hdf", 1024, false)]
    public void AChunkIndexEntryBeyondTheEndOfTheFileIsRefusedByWhatItGives(string name, int userBlock, bool byAddress)
    {
        byte[] file = File.ReadAllBytes(DataFile(name));
        (int sizeAt, long address) = ChunkEntry(file, 0);
        int addressAt = sizeAt + 8 + 8 * 3;  // after the key of a chunk of W, of 2 dimensions
        if (byAddress)
        {
            address = file.Length + 1000L;
            BitConverter.TryWriteBytes(file.AsSpan(addressAt, 8), address);
        }
        else
        {
            BitConverter.TryWriteBytes(file.AsSpan(sizeAt, 4), (uint)(file.Length - userBlock - address + 1));  // one byte past the end
        }
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            $"parameter 'W' of Linear 'lin' has a chunk of {BitConverter.ToUInt32(file, sizeAt)} bytes at byte {userBlock + address} by " +
            $"its chunk index, which runs past the end of the file ({file.Length} bytes): the file is damaged");
    }

    /// <summary>
    /// A chunk may end where the file ends (where it was the last thing written): that is not past the end. PuzzleLib's
    /// file with W's chunk moved to its end, where its chunk index gives it, and the superblock's end of file (at byte 40
    /// of version 0) after it.
    /// </summary>
    [Test]
    public void AChunkThatEndsWhereTheFileEndsLoads()
    {
        byte[] original = File.ReadAllBytes(DataFile("linear-2x3-lin.hdf"));
        (int sizeAt, long address) = ChunkEntry(original, 0);
        int size = BitConverter.ToInt32(original, sizeAt);
        byte[] file = [.. original, .. original.AsSpan((int)address, size)];
        file.AsSpan((int)address, size).Clear();
        BitConverter.TryWriteBytes(file.AsSpan(sizeAt + 8 + 8 * 3, 8), (long)original.Length);
        BitConverter.TryWriteBytes(file.AsSpan(40, 8), (long)file.Length);
        using Linear layer = Layer(2, 3);

        layer.Load(new MemoryStream(file));

        Assert.That(layer.W.ToArray(), Is.EqualTo(FileW));
        Assert.That(layer.B!.ToArray(), Is.EqualTo(FileB));
    }

    /// <summary>
    /// A chunk whose address in the chunk index is undefined was never written: HDF5 reads it as the fill value, so the
    /// file is refused as lacking it, not as giving a chunk beyond its end.
    /// </summary>
    [Test]
    public void AChunkIndexEntryWithoutAnAddressIsAChunkNeverWritten()
    {
        byte[] file = File.ReadAllBytes(DataFile("linear-2x3-lin.hdf"));
        (int sizeAt, _) = ChunkEntry(file, 0);
        file.AsSpan(sizeAt + 8 + 8 * 3, 8).Fill(0xFF);  // W's chunk address: the undefined address
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            "parameter 'W' of Linear 'lin' is incomplete there: 1 of its chunks are not in the file");
    }

    /// <summary>
    /// A superblock of version 1 (which HDF5 writes in the earliest format where a file's chunk B-trees are given another
    /// K than the default, H5Pset_istore_k) has 4 bytes more than version 0 before the base address, which chunk addresses
    /// count from. The index is made from PuzzleLib's file with its first 36 bytes made such a superblock's; the stream's
    /// position is kept.
    /// </summary>
    [Test]
    public void InAFileWhoseSuperblockIsOfVersion1ChunksAreFoundFromItsBaseAddress()
    {
        byte[] bytes = File.ReadAllBytes(DataFile("linear-2x3-lin.hdf"));
        (int sizeAt, long address) = ChunkEntry(bytes, 0);
        int stored = BitConverter.ToInt32(bytes, sizeAt);
        bytes[8] = 1;  // superblock version 1
        bytes[24] = 32;  // the indexed storage B-tree's K (2 bytes), 2 bytes reserved
        bytes[25] = bytes[26] = bytes[27] = 0;
        bytes.AsSpan(28, 8).Clear();  // the base address: 0
        using var file = new MemoryStream(bytes) { Position = 100 };
        long leaf = sizeAt - 24;

        ChunkIndex? index = ChunkIndex.For(file, rank: 2, "W", "the file");

        Assert.That(index, Is.Not.Null, "a superblock of version 1 is read");
        Assert.That(file.Position, Is.EqualTo(100), "the stream's position is kept");
        index!.Sought(leaf);
        index.ReadsMetadata(leaf);
        Assert.DoesNotThrow(() => index.ReadsChunk(address, stored), "the chunk at the address its index gives");
        var error = Assert.Throws<InvalidDataException>(() => index.ReadsChunk(address, 24));
        Assert.That(error!.Message, Does.Contain($"gives the chunk at byte {address} {stored} bytes"));
    }

    /// <summary>
    /// A chunk with a dimension of 0 fits no shape (HDF5 makes none): it is refused as such, before PureHDF or the chunk
    /// cache's sizing divides by it.
    /// </summary>
    [TestCase(0)]
    [TestCase(1)]
    public void AChunkWithADimensionOfZeroIsRefused(int dimension)
    {
        // As in AChunkLargerThanItsDatasetIsRefusedBeforeItIsRead: W's chunks of 2 x 3 float32 values in its layout message.
        byte[] file = File.ReadAllBytes(DataFile("linear-2x3-lin.hdf"));
        byte[] chunks = [2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0];
        int at = Enumerable.Range(11, file.Length - 11 - chunks.Length)
            .Single(i => file[i - 11] == 3 && file[i - 10] == 2 && file[i - 9] == 3 && file.AsSpan(i, chunks.Length).SequenceEqual(chunks));
        file.AsSpan(at + 4 * dimension, 4).Clear();
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(new MemoryStream(file)),
            $"parameter 'W' of Linear 'lin' is stored in chunks of [{(dimension == 0 ? "0x3" : "2x0")}], which do not fit its shape [2x3]: " +
            "the file is damaged");
    }

    /// <summary>
    /// Where the byte lies that gives the type of dataset <paramref name="dataset"/>'s filter pipeline message (0x0B)
    /// in PuzzleLib's file (0 for W, 1 for b, in the order written). Its 8 bytes of message header (type, size,
    /// flags, reserved) and 8 of message (version, number of filters, reserved) come before the filter (deflate):
    /// its id, the length of its name, its flags and its number of parameters (2 bytes each), then its name.
    /// </summary>
    private static int FilterPipelineMessage(byte[] file, int dataset)
    {
        int at = Enumerable.Range(24, file.Length - 32).Where(i => file.AsSpan(i, 8).SequenceEqual("deflate\0"u8)).ElementAt(dataset) - 24;
        Assert.That(BitConverter.ToUInt16(file, at), Is.EqualTo(0x000B), "a filter pipeline message");
        return at;
    }

    /// <summary>
    /// The first entry of dataset <paramref name="dataset"/>'s chunk index in PuzzleLib's file (0 for W, of 2
    /// dimensions; 1 for b, of 1): where its key gives the chunk's stored size, and the chunk's address (from the
    /// file's base address: past its user block, where it has one). The index is
    /// a version 1 B-tree of one leaf: "TREE", node type 1 (chunks), level, number of entries (2 bytes), the two
    /// siblings' addresses (8 bytes each); then the key (the size in 4 bytes, the filter mask in 4, the chunk's
    /// offset in each dimension and one more in 8 each) and the chunk's address (8 bytes).
    /// </summary>
    private static (int SizeAt, long Address) ChunkEntry(byte[] file, int dataset)
    {
        int leaf = Enumerable.Range(0, file.Length - 4).Where(i => file.AsSpan(i, 4).SequenceEqual("TREE"u8) && file[i + 4] == 1).ElementAt(dataset);
        Assert.That(file[leaf + 5], Is.EqualTo(0), "a leaf");
        int rank = dataset == 0 ? 2 : 1;
        return (leaf + 24, BitConverter.ToInt64(file, leaf + 24 + 8 + 8 * (rank + 1)));
    }

    [Test]
    public void ChunkedValuesRoundTrip()
    {
        string path = Path.Combine(_folder, "chunked.hdf");
        var deflate = new H5DatasetCreation(Filters: [new H5Filter(DeflateFilter.Id)]);
        var values = new H5Group
        {
            ["0"] = new H5Dataset(FileW, chunks: [1, 2], fileDims: [2, 3], datasetCreation: deflate),  // edge chunks overhang
            ["1"] = new H5Dataset(FileB, chunks: [3]),
        };
        new H5File { ["params"] = values, ["links"] = new H5Group { ["lin.W"] = 0L, ["lin.b"] = 1L } }.Write(path);
        using Linear layer = Layer(2, 3);

        layer.Load(path);

        Assert.That(layer.W.ToArray(), Is.EqualTo(FileW));
        Assert.That(layer.B!.ToArray(), Is.EqualTo(FileB));
    }

    [Test]
    public void EachChunkOfARowOfManyChunksIsReadOnce()
    {
        // W in chunks of 128 x 128 float32 (h5py's default chunks for a Linear(4096, 4096)): 32 chunks of 64 KB across
        // each row of values, more than PureHDF's default chunk cache (1 MB) holds; each chunk was read (and, where
        // compressed, inflated) again for most of its 128 rows: 319 MB read from this 4 MB file, and 26 s to load
        // h5py's Linear(4096, 4096).
        var values = new H5Group
        {
            ["0"] = new H5Dataset(Uniform(256, 4096, 7), chunks: [128, 128]),
            ["1"] = new H5Dataset(Flat(Uniform(1, 4096, 8))),
        };
        var bytes = new MemoryStream();
        new H5File { ["params"] = values, ["links"] = new H5Group { ["lin.W"] = 0L, ["lin.b"] = 1L } }.Write(bytes);
        long bytesRead = 0;
        var file = new ObservedStream(bytes.ToArray(), read => bytesRead += read);
        using Linear layer = Layer(256, 4096);

        layer.Load(file);

        Assert.That(layer.W.ToArray(), Is.EqualTo(Flat(Uniform(256, 4096, 7))));
        Assert.That(bytesRead, Is.LessThan(2 * file.Length), "bytes read, of a file of 4 MB");
    }

    /// <summary>
    /// Where the last chunk of a row only partly holds values (W of 64 x 4100 in chunks of 64 x 128: 33 chunks across a
    /// row, the last holding 4 columns of its 128), a row of chunks has more bytes than the values: the cache still
    /// keeps the whole row, as its room of twice the values' bytes allows, and each chunk is read once.
    /// </summary>
    [Test]
    public void EachChunkIsReadOnceWhereTheLastChunkOfARowOverhangsTheValues()
    {
        float[,] w = Uniform(64, 4100, 7);
        var values = new H5Group
        {
            ["0"] = new H5Dataset(w, chunks: [64, 128]),
            ["1"] = new H5Dataset(Flat(Uniform(1, 4100, 8))),
        };
        var bytes = new MemoryStream();
        new H5File { ["params"] = values, ["links"] = new H5Group { ["lin.W"] = 0L, ["lin.b"] = 1L } }.Write(bytes);
        long bytesRead = 0;
        var file = new ObservedStream(bytes.ToArray(), read => bytesRead += read);
        using Linear layer = Layer(64, 4100);

        layer.Load(file);

        Assert.That(layer.W.ToArray(), Is.EqualTo(Flat(w)));
        Assert.That(bytesRead, Is.LessThan(2 * file.Length), "bytes read, of a file of 1 MB");
    }

    [Test]
    public void ChunksFarTallerThanTheValuesAreNotAllKeptAtOnce()
    {
        // W's 2 x 16 values lie in 16 chunks of 262144 x 1 (1 MB each, inflated), as HDF5 allows where a dimension may
        // grow. A row of values passes through all 16; a cache sized to keep them for the next row held 16 MB for the
        // 128 bytes of values of this 28 KB file (and would hold gigabytes for a file of chunks that are taller still).
        using Linear layer = Layer(2, 16);
        long mostLive = 0;  // the most memory live (after a full collection) at any read
        var file = new ObservedStream(File.ReadAllBytes(DataFile("linear-2x16-lin-tall-chunks.hdf")),
            _ => mostLive = Math.Max(mostLive, GC.GetTotalMemory(forceFullCollection: true)));

        long before = GC.GetTotalMemory(forceFullCollection: true);
        layer.Load(file);

        Assert.That(layer.W.ToArray(), Is.EqualTo(Enumerable.Range(0, 32).Select(i => i / 4f)));
        Assert.That(mostLive - before, Is.LessThan(8 << 20), "bytes live while the file was read");
    }

    [Test]
    public void AModuleWithTwoParametersOfOneNameIsNeitherSavedNorLoaded()
    {
        using var module = new TwoLayers(TestDevice);
        string path = Path.Combine(_folder, "two.hdf");
        float[] w = module.First.W.ToArray();

        var save = Assert.Throws<InvalidOperationException>(() => module.Save(path));
        var saveToStream = Assert.Throws<InvalidOperationException>(() => module.Save(new MemoryStream()));
        using (Linear single = Layer(2, 2, name: "pair"))
        {
            single.Save(path);
        }
        var load = Assert.Throws<InvalidOperationException>(() => module.Load(path));

        Assert.Multiple(() =>
        {
            Assert.That(save!.Message, Does.Contain("has 2 parameters named 'W'"));
            Assert.That(saveToStream!.Message, Does.Contain("has 2 parameters named 'W'"));
            Assert.That(load!.Message, Does.Contain("has 2 parameters named 'W'"));
            Assert.That(module.First.W.ToArray(), Is.EqualTo(w), "nothing loaded");
        });
    }

    /// <summary>Two layers in one module, exposing both layers' parameters: W, b, W, b.</summary>
    private sealed class TwoLayers(Device device) : Module(device, "pair", null)
    {
        public Linear First { get; } = new(2, 2, seed: 10, device: device);
        public Linear Second { get; } = new(2, 2, seed: 11, device: device);
        public override IEnumerable<Parameter> Parameters => First.Parameters.Concat(Second.Parameters);
        protected override void ValidateInput(Tensor input) { }
        protected override Tensor ForwardCore(Tensor input) => Second.Forward(First.Forward(input));
        protected override Tensor? BackwardCore(Tensor input, Tensor grad, bool updGrad, bool accumulate) =>
            First.Backward(Second.Backward(grad, true, accumulate)!, updGrad, accumulate);

        protected override void Dispose(bool disposing)
        {
            First.Dispose();
            Second.Dispose();
            base.Dispose(disposing);
        }
    }

    [Test]
    public void ParametersOfOtherAndNestedModulesInTheFileAreLeftAlone()
    {
        string file = Path.Combine(_folder, "network.hdf");
        var values = new H5Group { ["0"] = new H5Dataset(FileW, fileDims: [2, 3]), ["1"] = new H5Dataset(FileB) };
        // A layer without bias named lin, beside a container's child lin.inner and another layer's bias.
        var links = new H5Group { ["lin.W"] = 0L, ["lin.inner.b"] = 1L, ["other.b"] = 1L, ["lin."] = 1L };
        new H5File { ["params"] = values, ["links"] = links }.Write(file);
        using Linear layer = Layer(2, 3, useBias: false);

        layer.Load(file);

        Assert.That(layer.W.ToArray(), Is.EqualTo(FileW));
    }

    [Test]
    public void LinksThatAreNotIntegersOrNameNoValuesAreRefused()
    {
        string notAnInteger = Path.Combine(_folder, "float-link.hdf"), dangling = Path.Combine(_folder, "dangling-link.hdf");
        var values = new H5Group { ["0"] = new H5Dataset(FileW, fileDims: [2, 3]), ["1"] = new H5Dataset(FileB) };
        new H5File { ["params"] = values, ["links"] = new H5Group { ["lin.W"] = 0.0, ["lin.b"] = 1L } }.Write(notAnInteger);
        new H5File { ["params"] = values, ["links"] = new H5Group { ["lin.W"] = 0L, ["lin.b"] = 7L } }.Write(dangling);
        // A 4-byte signed integer, as h5py writes numpy's int32: read as signed, it names what the file says.
        string negative = Path.Combine(_folder, "negative-link.hdf");
        new H5File { ["params"] = values, ["links"] = new H5Group { ["lin.W"] = 0, ["lin.b"] = -1 } }.Write(negative);
        using Linear layer = Layer(2, 3);

        AssertRefusedUnchanged(layer, () => layer.Load(notAnInteger), "the link 'lin.W' is not a single integer");
        AssertRefusedUnchanged(layer, () => layer.Load(dangling), "the link 'lin.b' names 'params/7', which is not there");
        AssertRefusedUnchanged(layer, () => layer.Load(negative), "the link 'lin.b' names 'params/-1', which is not there");
    }

    [Test]
    public void SavingThroughASymbolicLinkWritesItsTarget()
    {
        string target = Path.Combine(_folder, "target.hdf");
        string link = Path.Combine(_folder, "link.hdf");
        File.WriteAllText(target, "an older file");
        File.CreateSymbolicLink(link, target);
        using Linear saved = Layer(2, 3, seed: 4);
        using Linear loaded = Layer(2, 3, seed: 6);

        saved.Save(link);
        loaded.Load(target);

        Assert.That(new FileInfo(link).LinkTarget, Is.EqualTo(target), "the link is still a link");
        Assert.That(loaded.W.ToArray(), Is.EqualTo(saved.W.ToArray()), "the target holds the new file");
    }

    /// <summary>Through a link to a link, the file at the end of the chain is replaced; both links stay links.</summary>
    [Test]
    public void SavingThroughAChainOfLinksWritesTheLastTarget()
    {
        string target = Path.Combine(_folder, "target.hdf");
        string middle = Path.Combine(_folder, "middle.hdf");
        string link = Path.Combine(_folder, "link.hdf");
        File.WriteAllText(target, "an older file");
        File.CreateSymbolicLink(middle, target);
        File.CreateSymbolicLink(link, middle);
        using Linear saved = Layer(2, 3, seed: 4);
        using Linear loaded = Layer(2, 3, seed: 6);

        saved.Save(link);
        loaded.Load(target);

        Assert.That(new FileInfo(link).LinkTarget, Is.EqualTo(middle), "the first link is still a link");
        Assert.That(new FileInfo(middle).LinkTarget, Is.EqualTo(target), "the second link is still a link");
        Assert.That(loaded.W.ToArray(), Is.EqualTo(saved.W.ToArray()), "the target holds the new file");
    }

    /// <summary>
    /// A link's target is followed as the system follows it: "../shared" after a folder reached through a link goes up
    /// from where that link leads. Followed by text, it went up from the link itself and replaced another file that
    /// happened to lie there.
    /// </summary>
    [TestCase(false)]  // project/model.hdf -> ../shared/model.hdf, with project a link
    [TestCase(true)]  // model.hdf -> {folder}/project/../shared/model.hdf, absolute, through that link
    [UnsupportedOSPlatform("windows")]
    public void SavingThroughALinkWhoseTargetGoesUpFromALinkedFolderWritesTheFileTheSystemReaches(bool absolute)
    {
        string real = Path.Combine(_folder, "data");
        Directory.CreateDirectory(Path.Combine(real, "project"));
        Directory.CreateDirectory(Path.Combine(real, "shared"));
        string target = Path.Combine(real, "shared", "model.hdf");
        File.WriteAllText(target, "an older file");
        File.CreateSymbolicLink(Path.Combine(real, "project", "model.hdf"), Path.Combine("..", "shared", "model.hdf"));
        Directory.CreateSymbolicLink(Path.Combine(_folder, "project"), Path.Combine(real, "project"));
        Directory.CreateDirectory(Path.Combine(_folder, "shared"));
        string bystander = Path.Combine(_folder, "shared", "model.hdf");  // where "project/../shared" leads by text
        File.WriteAllText(bystander, "another file");
        string link = Path.Combine(_folder, "project", "model.hdf");
        if (absolute)
        {
            link = Path.Combine(_folder, "model.hdf");
            File.CreateSymbolicLink(link, _folder + "/project/../shared/model.hdf");
        }
        using Linear saved = Layer(2, 3, seed: 4);
        using Linear loaded = Layer(2, 3, seed: 6);

        saved.Save(link);
        loaded.Load(link);

        Assert.That(loaded.W.ToArray(), Is.EqualTo(saved.W.ToArray()), "the file the link reaches holds the new file");
        Assert.That(File.ReadAllBytes(target), Is.EqualTo(SavedBytes(saved)));
        Assert.That(File.ReadAllText(bystander), Is.EqualTo("another file"), "the file by text is left alone");
    }

    [Test]
    [UnsupportedOSPlatform("windows")]
    public void SavingThroughALoopOfLinksIsRefused()
    {
        string first = Path.Combine(_folder, "first.hdf"), second = Path.Combine(_folder, "second.hdf");
        File.CreateSymbolicLink(first, second);
        File.CreateSymbolicLink(second, first);
        using Linear layer = Layer(2, 3);

        var e = Assert.Throws<IOException>(() => layer.Save(first));
        Assert.That(e!.Message, Does.Contain("symbolic links go on past 40 links"));
        Assert.That(Directory.GetFiles(_folder, ".neuron-save-*"), Is.Empty);
    }

    /// <summary>
    /// The new file is created with the replaced file's permissions (less the umask), not the system's default: a
    /// private file's parameters are never readable by others while they are written.
    /// </summary>
    [Test]
    [UnsupportedOSPlatform("windows")]
    public void TheReplacementIsCreatedWithTheReplacedFilesPermissions()
    {
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        string path = Path.Combine(_folder, ".neuron-save-test.tmp");
        using (FileStream replacement = Module.CreateReplacement(path, Private))
        {
            Assert.That(File.GetUnixFileMode(path), Is.EqualTo(Private), "as it is created, before anything is written");
        }
        File.Delete(path);
        using (Module.CreateReplacement(path, null))
        {
            Assert.That(File.GetUnixFileMode(path) & UnixFileMode.UserWrite, Is.EqualTo(UnixFileMode.UserWrite), "the default: writable");
        }
    }

    /// <summary>
    /// A regular file is replaced, not written over: written over, a larger old file would keep its end after the new
    /// one, and whoever has the old file open would see it change under them.
    /// </summary>
    [TestCase(false)]
    [TestCase(true)]  // the link is followed to a regular file, which is replaced as well
    public void SavingOverALargerFileLeavesNothingOfIt(bool throughLink)
    {
        string target = Path.Combine(_folder, "lin.hdf");
        File.WriteAllBytes(target, Enumerable.Repeat((byte)0x5A, 1 << 16).ToArray());
        string path = target;
        if (throughLink)
        {
            path = Path.Combine(_folder, "link.hdf");
            File.CreateSymbolicLink(path, target);
        }
        using Linear layer = Layer(2, 3, seed: 4);
        using FileStream reader = File.OpenRead(target);

        layer.Save(path);

        Assert.That(File.ReadAllBytes(target), Is.EqualTo(SavedBytes(layer)), "the file holds what Save writes, and no more");
        Assert.That(reader.ReadByte(), Is.EqualTo(0x5A), "the old file, still open, is as it was");
    }

    [Test]
    [UnsupportedOSPlatform("windows")]
    public void SavingKeepsAnExistingFilesPermissions()
    {
        string path = Path.Combine(_folder, "private.hdf");
        File.WriteAllText(path, "an older file");
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        File.SetUnixFileMode(path, Private);
        using Linear layer = Layer(2, 3);

        layer.Save(path);

        Assert.That(File.GetUnixFileMode(path), Is.EqualTo(Private));
    }

    /// <summary>
    /// Saved as root over another user's file, the new file is still theirs, so that they can go on replacing it (a job
    /// in a container that runs as root, writing into a folder of the user's).
    /// </summary>
    [Test]
    [UnsupportedOSPlatform("windows")]
    public void SavingAsRootKeepsAnExistingFilesOwnerAndGroup()
    {
        Assume.That(Environment.IsPrivilegedProcess, "only root may give a file to another user");
        string path = Path.Combine(_folder, "theirs.hdf");
        File.WriteAllText(path, "an older file");
        const string Nobody = "65534:65534";
        Assume.That(Run("chown", Nobody, path), "chown");
        using Linear layer = Layer(2, 3);

        layer.Save(path);

        using var stat = System.Diagnostics.Process.Start(
            new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%u:%g", path]) { RedirectStandardOutput = true })!;
        string owner = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        Assert.That(owner, Is.EqualTo(Nobody));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(SavedBytes(layer)));
    }

    [Test]
    [TestCase(true)]
    [TestCase(false)]  // no temporary folder: the file passes through memory instead
    public void StreamsRoundTripFromTheirPosition(bool temporaryFolderExists)
    {
        string temporary = Path.Combine(_folder, "tmp");
        if (temporaryFolderExists)
        {
            Directory.CreateDirectory(temporary);
        }
        using var tmpdir = new EnvironmentVariable("TMPDIR", temporary);
        using Linear saved = Layer(4, 2, seed: 12);
        using Linear loaded = Layer(4, 2, seed: 13);
        byte[] header = [1, 2, 3, 4, 5];
        using var written = new MemoryStream();
        written.Write(header);

        saved.Save(new ForwardOnly(written));  // after what the stream holds, without seeking
        byte[] bytes = written.ToArray();
        Assert.That(bytes[..header.Length], Is.EqualTo(header), "what the stream held is kept");

        var read = new ForwardOnly(new MemoryStream(bytes));
        read.ReadExactly(new byte[header.Length]);
        loaded.Load(read);

        Assert.That(loaded.W.ToArray(), Is.EqualTo(saved.W.ToArray()));
        Assert.That(loaded.B!.ToArray(), Is.EqualTo(saved.B!.ToArray()));
        Assert.That(Directory.Exists(temporary) ? Directory.GetFileSystemEntries(temporary) : [], Is.Empty,
            "no temporary file is left");
    }

    [Test]
    public void AnEmptySeekableStreamIsWrittenInPlaceAndLeftAtItsEnd()
    {
        using Linear saved = Layer(4, 2, seed: 12);
        using Linear loaded = Layer(4, 2, seed: 13);
        using var stream = new MemoryStream();

        saved.Save(stream);

        Assert.That(stream.Position, Is.EqualTo(stream.Length).And.GreaterThan(0));
        loaded.Load(new MemoryStream(stream.ToArray()));
        Assert.That(loaded.W.ToArray(), Is.EqualTo(saved.W.ToArray()));
        Assert.That(loaded.B!.ToArray(), Is.EqualTo(saved.B!.ToArray()));
    }

    /// <summary>
    /// A seekable stream that already holds bytes, or whose position is past its end, is written at its position and
    /// left after what was written, as any other stream is; what it held past the new file is left as it was.
    /// </summary>
    [TestCase(0, 100_000)]  // over an older, larger file: the stream is left after the new one, not at the old end
    [TestCase(5, 0)]  // an empty stream past its start: the file starts there, after 5 zero bytes
    public void ASeekableStreamIsWrittenAtItsPositionAndLeftAfterTheFile(int position, int held)
    {
        using Linear saved = Layer(4, 2, seed: 12);
        using Linear loaded = Layer(4, 2, seed: 13);
        byte[] file = SavedBytes(saved);
        using var stream = new MemoryStream();
        stream.Write(Enumerable.Repeat((byte)0x5A, held).ToArray());
        stream.Position = position;

        saved.Save(stream);

        Assert.That(stream.Position, Is.EqualTo(position + file.Length), "the stream is left after the file");
        byte[] bytes = stream.ToArray();
        Assert.That(bytes[..position], Is.All.Zero, "the bytes before the position");
        Assert.That(bytes[position..(position + file.Length)], Is.EqualTo(file), "the file, at the position");
        Assert.That(bytes[(position + file.Length)..], Is.All.EqualTo((byte)0x5A), "what the stream held past the file");
        loaded.Load(new MemoryStream(file));
        Assert.That(loaded.W.ToArray(), Is.EqualTo(saved.W.ToArray()));
    }

    [Test]
    public void ASeekableStreamAtItsStartIsReadToItsEnd()
    {
        using Linear layer = Layer(2, 3);
        using var stream = new MemoryStream(File.ReadAllBytes(DataFile("linear-2x3-lin.hdf")));

        layer.Load(stream);

        Assert.That(layer.W.ToArray(), Is.EqualTo(FileW));
        Assert.That(layer.B!.ToArray(), Is.EqualTo(FileB));
        Assert.That(stream.Position, Is.EqualTo(stream.Length), "as after a stream read through");
    }

    /// <summary>
    /// A seekable stream past its start (after a header of another format, say) holds the file from its position on: it
    /// is read from there, not from the stream's first byte, and left at its end.
    /// </summary>
    [Test]
    public void ASeekableStreamPastItsStartIsReadFromItsPosition()
    {
        byte[] header = [1, 2, 3, 4, 5];
        using var stream = new MemoryStream([.. header, .. File.ReadAllBytes(DataFile("linear-2x3-lin.hdf"))]) { Position = header.Length };
        using Linear layer = Layer(2, 3);

        layer.Load(stream);

        Assert.That(layer.W.ToArray(), Is.EqualTo(FileW));
        Assert.That(layer.B!.ToArray(), Is.EqualTo(FileB));
        Assert.That(stream.Position, Is.EqualTo(stream.Length), "as after a stream read through");
    }

    [Test]
    public void StreamsTheWrongWayRoundAreRefused()
    {
        using Linear layer = Layer(2, 3);
        using var readOnly = new MemoryStream(File.ReadAllBytes(DataFile("linear-2x3-lin.hdf")), writable: false);
        using var writeOnly = new ForwardOnly(new MemoryStream(), canRead: false);
        Assert.Throws<ArgumentException>(() => layer.Save(readOnly));
        Assert.Throws<ArgumentException>(() => layer.Load(writeOnly));
    }

    [Test]
    public void BadArgumentsAreRefused()
    {
        using Linear slashed = Layer(2, 3, name: "block/lin");
        Assert.Multiple(() =>
        {
            Assert.Throws<ArgumentNullException>(() => slashed.Save((string)null!));
            Assert.Throws<ArgumentException>(() => slashed.Load(""));
            var error = Assert.Throws<ArgumentException>(() => slashed.Save(Path.Combine(_folder, "x.hdf")));
            Assert.That(error!.Message, Does.Contain("holds '/'"));
            Assert.Throws<ArgumentException>(() => slashed.Load(DataFile("linear-2x3-lin.hdf")));
        });
    }

    // Escaped: an attribute's strings are stored as UTF-8, which has no unpaired surrogate either.
    [TestCase(@"\uD800", "an unpaired surrogate (U+D800 at index 0)")]
    [TestCase(@"lin\uDC00", "an unpaired surrogate (U+DC00 at index 3)")]
    [TestCase(@"l\u0000in", "a NUL character (at index 1)")]
    public void ANameThatHdf5CannotKeepIsRefused(string escaped, string problem)
    {
        string name = System.Text.RegularExpressions.Regex.Unescape(escaped);
        // UTF-8 has no unpaired surrogate (PureHDF would write U+FFFD, and the module could not find its own
        // name in its file); HDF5's C library, and so PuzzleLib and h5py, end a name at a NUL.
        using Linear layer = Layer(2, 3, name: name);
        string path = Path.Combine(_folder, "lin.hdf");

        var save = Assert.Throws<ArgumentException>(() => layer.Save(path));
        var saveToStream = Assert.Throws<ArgumentException>(() => layer.Save(new MemoryStream()));
        var load = Assert.Throws<ArgumentException>(() => layer.Load(DataFile("linear-2x3-lin.hdf")));

        Assert.Multiple(() =>
        {
            foreach (ArgumentException? error in new[] { save, saveToStream, load })
            {
                Assert.That(error!.Message, Does.Contain($"a module whose name holds {problem} cannot be saved or loaded"));
            }
            Assert.That(Directory.GetFileSystemEntries(_folder), Is.Empty, "nothing written");
        });
    }

    [Test]
    public void ANameBeyondTheBasicPlaneRoundTrips()
    {
        using Linear saved = Layer(2, 3, name: "lin\U0001F600", seed: 1);  // a surrogate pair
        using Linear loaded = Layer(2, 3, name: "lin\U0001F600", seed: 2);
        string path = Path.Combine(_folder, "lin.hdf");

        saved.Save(path);
        loaded.Load(path);

        Assert.That(loaded.W.ToArray(), Is.EqualTo(saved.W.ToArray()));
    }

    [Test]
    public void ADisposedLayerIsNamed()
    {
        Linear layer = Layer(2, 3);
        layer.Dispose();
        var save = Assert.Throws<ObjectDisposedException>(() => layer.Save(Path.Combine(_folder, "lin.hdf")));
        var load = Assert.Throws<ObjectDisposedException>(() => layer.Load(DataFile("linear-2x3-lin.hdf")));
        Assert.That(save!.Message, Does.Contain("Linear 'lin'"));
        Assert.That(load!.Message, Does.Contain("Linear 'lin'"));
        Assert.That(Directory.GetFileSystemEntries(_folder), Is.Empty);
    }

    /// <summary>What <paramref name="layer"/>.Save writes to a stream.</summary>
    private static byte[] SavedBytes(Module layer)
    {
        using var stream = new MemoryStream();
        layer.Save(stream);
        return stream.ToArray();
    }

    /// <summary>
    /// Writes the checksum of the version 2 object header ("OHDR") around <paramref name="inside"/> anew, as
    /// a writer that wrote the header so would: what Load checks past the checksum then shows.
    /// </summary>
    private static void ResealHeader(byte[] file, int inside)
    {
        int start = file.AsSpan(0, inside).LastIndexOf("OHDR"u8);
        byte flags = file[start + 5];
        int prefix = 6 + ((flags & 0x20) != 0 ? 16 : 0) + ((flags & 0x10) != 0 ? 4 : 0);
        int sizeField = 1 << (flags & 0x03);
        ulong messages = 0;
        for (int i = sizeField - 1; i >= 0; i--)
        {
            messages = (messages << 8) | file[start + prefix + i];
        }
        int length = prefix + sizeField + (int)messages;
        BitConverter.TryWriteBytes(file.AsSpan(start + length, 4), MetadataChecksums.Lookup3(file.AsSpan(start, length)));
    }

    private static byte[] AsBytes(float[] values) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    /// <summary>Where <paramref name="pattern"/> occurs in <paramref name="file"/>, which must be once.</summary>
    private static int IndexOf(byte[] file, byte[] pattern) =>
        Enumerable.Range(0, file.Length - pattern.Length + 1).Single(i => file.AsSpan(i, pattern.Length).SequenceEqual(pattern));

    /// <summary>Asserts that <paramref name="load"/> throws an <see cref="InvalidDataException"/> whose message holds <paramref name="message"/>, and that the layer's parameters did not change.</summary>
    private static InvalidDataException AssertRefusedUnchanged(Linear layer, Action load, string message)
    {
        float[] w = layer.W.ToArray();
        float[]? b = layer.B?.ToArray();
        var error = Assert.Throws<InvalidDataException>(load)!;
        Assert.That(error.Message, Does.Contain(message));
        Assert.That(layer.W.ToArray(), Is.EqualTo(w), "W is unchanged");
        Assert.That(layer.B?.ToArray(), Is.EqualTo(b), "b is unchanged");
        return error;
    }

    /// <summary>A read-only stream over <paramref name="file"/> that tells <paramref name="onRead"/> each read's count of bytes.</summary>
    private sealed class ObservedStream(byte[] file, Action<int> onRead) : Stream
    {
        private readonly MemoryStream _inner = new(file, writable: false);

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => _inner.Length;
        public override long Position { get => _inner.Position; set => _inner.Position = value; }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Observed(_inner.Read(buffer, offset, count));
        public override int Read(Span<byte> buffer) => Observed(_inner.Read(buffer));
        public override long Seek(long offset, SeekOrigin origin) => _inner.Seek(offset, origin);
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Observed(int read)
        {
            onRead(read);
            return read;
        }
    }

    /// <summary>A stream over another that cannot seek (nor, optionally, read).</summary>
    private sealed class ForwardOnly(Stream inner, bool canRead = true) : Stream
    {
        public override bool CanRead => canRead && inner.CanRead;
        public override bool CanSeek => false;
        public override bool CanWrite => inner.CanWrite;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) =>
            canRead ? inner.Read(buffer, offset, count) : throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    }
}
