using System.Runtime.Versioning;
using System.Text.RegularExpressions;
using NeuronInterop.Cli.Infrastructure;
using NeuronInterop.Cli.RestoreLine;
using NeuronInterop.Native;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;

namespace NeuronInterop.Tests.Cli;

/// <summary>Every bad input: a non-zero exit code and one line on stderr, never a stack trace.</summary>
public sealed class BadInputTests
{
    private TempFolder _temp = null!;

    private string Folder => _temp.Path;

    [SetUp]
    public void SetUp() => _temp = new TempFolder();

    [TearDown]
    public void TearDown() => _temp.Dispose();

    [TestCase("'--no-such-option'", "restore-line", "--no-such-option")]
    [TestCase("'no-such-command'", "no-such-command")]
    [TestCase("--steps must be at least 1 (got '-5')", "restore-line", "--steps", "-5")]
    [TestCase("--steps must be at least 1 (got '0')", "restore-line", "--steps", "0")]
    [TestCase("--steps must be an integer from 1 to 10000000 (got '1.5')", "restore-line", "--steps", "1.5")]
    [TestCase("--steps must be an integer", "restore-line", "--steps")]
    [TestCase("--lr must be a finite positive number (got '0')", "restore-line", "--lr", "0")]
    [TestCase("--lr must be a finite positive number (got '-0.01')", "restore-line", "--lr", "-0.01")]
    [TestCase("--lr must be a finite positive number (got 'NaN')", "restore-line", "--lr", "NaN")]
    [TestCase("--lr must be a finite positive number (got 'Infinity')", "restore-line", "--lr", "Infinity")]
    [TestCase("--lr must be a finite positive number (got 'inf')", "restore-line", "--lr", "inf")]
    [TestCase("--lr must be a finite positive number (got 'fast')", "restore-line", "--lr", "fast")]
    [TestCase("--batch-size must be at least 1 (got '0')", "restore-line", "--batch-size", "0")]
    [TestCase("--batch-size must be at most 1000 (got '1001')", "restore-line", "--batch-size", "1001")]
    [TestCase("--device must be auto, host, cuda or cuda:N (got 'gpu')", "restore-line", "--device", "gpu")]
    [TestCase("--slope must be a finite number (got 'NaN')", "restore-line", "--slope", "NaN")]
    [TestCase("--verbosity must be quiet, minimal, normal, detailed, diagnostic or a LogLevel name (got 'loud')", "restore-line", "--verbosity", "loud")]
    [TestCase("--verbosity must be quiet, minimal, normal, detailed, diagnostic or a LogLevel name (got '7')", "info", "--verbosity", "7")]
    [TestCase("--case must be one of tutorial, huge, mid, large (got 'no-such-case')", "bench", "--case", "no-such-case", "--device", "host", "--quick")]
    public void RejectsBadCommandLinesSayingWhatIsWrong(string saying, params string[] args)
    {
        var result = CliRunner.Run(WithOut(args));
        AssertOneLineError(result, expectedExitCode: 2);
        Assert.That(result.ErrorLines[0], Does.Contain(saying));
        Assert.That(Directory.EnumerateFileSystemEntries(Folder), Is.Empty, "nothing written");
    }

    [Test]
    public void WithoutACommandTheToolPrintsItsHelp()
    {
        var result = CliRunner.Run();
        Assert.That(result.ExitCode, Is.EqualTo(2), "no command is a usage error, as System.CommandLine has it: " + result);
        Assert.That(result.Error, Is.Empty, "the help, not an error");
        Assert.That(result.Output, Does.Contain("Usage:").And.Contain("restore-line").And.Contain("info").And.Contain("bench"));
    }

    [Test]
    [SetUICulture("en-US")]
    public void AnUnknownCommandIsTheOnlyErrorReported()
    {
        var result = CliRunner.Run("foo");
        AssertOneLineError(result, expectedExitCode: 2);
        Assert.That(result.ErrorLines[0], Is.EqualTo("neuron: error: Unrecognized command or argument 'foo'. (see 'neuron --help')"));
    }

    [Test]
    public void SeveralErrorsReadAsSentences()
    {
        var result = CliRunner.Run("restore-line", "--steps", "0", "--lr", "0", "--out", Folder);
        AssertOneLineError(result, expectedExitCode: 2);
        Assert.That(result.ErrorLines[0], Does.Contain("--steps must be at least 1 (got '0'). --lr must be a finite positive number"));
    }

    [Test]
    public void BenchNamesThePyTorchOptionOfAFileThatIsNotThere()
    {
        string missing = Path.Combine(Folder, "missing.json");
        var result = CliRunner.Run("bench", "--quick", "--device", "host", "--pytorch", missing);
        AssertOneLineError(result, expectedExitCode: 1);
        Assert.That(result.ErrorLines[0], Does.EndWith($"--pytorch: there is no file '{missing}'."));
        Assert.That(result.Output, Is.Empty, "nothing measured");

        var folder = CliRunner.Run("bench", "--quick", "--device", "host", "--pytorch", Folder);
        AssertOneLineError(folder, expectedExitCode: 1);
        Assert.That(folder.ErrorLines[0], Does.EndWith($"--pytorch: '{Folder}' is a folder: name a result file of bench/pytorch_bench.py."));
    }

    [TestCase("--device", "gpu")]
    [TestCase("--device", "cuda:x")]
    [TestCase("--case", "no-such-case")]
    [TestCase("--case", "tutorial,nope")]
    [TestCase("--case", "")]
    [TestCase("--case", ",")]
    [TestCase("--repeats", "0")]
    public void BenchRejectsBadOptionValuesAsUsageErrors(string option, string value)
    {
        var result = CliRunner.Run("bench", "--quick", option, value);
        AssertOneLineError(result, expectedExitCode: 2);
        Assert.That(result.ErrorLines[0], Does.Contain(option));
        Assert.That(result.Output, Is.Empty, "nothing measured");
    }

    [Test]
    public void BenchChecksItsJsonFileBeforeMeasuring()
    {
        string file = Path.Combine(Folder, "a-file");
        File.WriteAllText(file, "");

        var below = CliRunner.Run("bench", "--quick", "--device", "host", "--json", Path.Combine(file, "report.json"));
        AssertOneLineError(below, expectedExitCode: 1);
        Assert.That(below.ErrorLines[0], Does.EndWith($"--json: '{file}' is a file, not a folder."));
        Assert.That(below.Output, Is.Empty, "nothing measured");

        var folder = CliRunner.Run("bench", "--quick", "--device", "host", "--json", Folder);
        AssertOneLineError(folder, expectedExitCode: 1);
        Assert.That(folder.ErrorLines[0], Does.Contain("is a folder"));

        // A path that names a folder not there yet (a trailing separator) is no file either: nothing measured, nothing made.
        string newFolder = Path.Combine(Folder, "new") + Path.DirectorySeparatorChar;
        var notThereYet = CliRunner.Run("bench", "--quick", "--device", "host", "--json", newFolder);
        AssertOneLineError(notThereYet, expectedExitCode: 1);
        Assert.That(notThereYet.ErrorLines[0], Does.EndWith($"--json '{newFolder}' is a folder: name a file."));
        Assert.That(notThereYet.Output, Is.Empty, "nothing measured");
        Assert.That(Directory.Exists(newFolder), Is.False, "no folder made");
    }

    [TestCase("--slope", "3e38")]
    [TestCase("--slope", "1e25")]
    [TestCase("--intercept", "-2e17")]
    public void ALineWhoseErrorsWouldNotBeFiniteInFloat32IsAUsageError(string option, string value)
    {
        // --slope 1e25 trained, but its errors, kept as float32, overflowed: a learning curve "not finite from step 1".
        var result = CliRunner.Run("restore-line", "--device", "host", option, value, "--out", Folder);
        AssertOneLineError(result, expectedExitCode: 2);
        Assert.That(result.ErrorLines[0], Does.Contain($"{option} must be at most 1E+17 in size (got '{value}')"));
        Assert.That(Directory.EnumerateFileSystemEntries(Folder), Is.Empty, "nothing written");
    }

    [Test]
    public void BenchReportsAPyTorchFileThatIsNotOneAsBadInput()
    {
        string file = Path.Combine(Folder, "pytorch.json");
        File.WriteAllText(file, "not json");
        var result = CliRunner.Run("bench", "--quick", "--device", "host", "--case", "tutorial", "--pytorch", file);
        AssertOneLineError(result, expectedExitCode: 1);
        Assert.That(result.ErrorLines[0], Does.Contain("is not valid JSON").And.Not.Contain("internal error"));
    }

    [Test]
    public void RejectsAnOutputFolderThatCannotBeWritten()
    {
        // Below a regular file no folder can be created, whoever runs the test (root included).
        string file = Path.Combine(Folder, "a-file");
        File.WriteAllText(file, "");
        var result = CliRunner.Run("restore-line", "--device", "host", "--out", Path.Combine(file, "out"));
        AssertOneLineError(result, expectedExitCode: 1);
        Assert.That(result.Error, Does.Contain("--out: cannot write to the folder"));
    }

    [Test]
    public void RejectsAnOutputPathThatIsAFile()
    {
        string file = Path.Combine(Folder, "a-file");
        File.WriteAllText(file, "");
        var result = CliRunner.Run("restore-line", "--device", "host", "--out", file);
        AssertOneLineError(result, expectedExitCode: 1);
        Assert.That(result.ErrorLines[0], Does.EndWith($"--out: '{file}' is a file, not a folder."));
    }

    [TestCase(Summary.FileName)]
    [TestCase(Figures.BothTrained)]
    [TestCase("neuron-long-run.hdf", "--save")]
    public void AFolderInPlaceOfAnOutputFileFailsBeforeTraining(string name, params string[] args)
    {
        string path = Path.Combine(Folder, name);
        Directory.CreateDirectory(path);
        var result = CliRunner.Run(["restore-line", "--steps", "5", "--device", "host", "--out", Folder, .. args]);
        AssertOneLineError(result, expectedExitCode: 1);
        Assert.That(result.ErrorLines[0], Does.EndWith($"--out: '{path}' is a folder: remove it or choose another --out."));
        Assert.That(result.Output, Is.Empty, "nothing trained");
        Assert.That(Directory.EnumerateFileSystemEntries(Folder), Is.EqualTo(new[] { path }), "nothing written");
    }

    [TestCase(Summary.FileName)]
    [TestCase(Figures.BothTrained)]
    [TestCase("neuron-long-run.hdf", "--save")]
    [UnsupportedOSPlatform("windows")]
    public void AReadOnlyOutputFileFailsBeforeTraining(string name, params string[] args)
    {
        // No one has write permission: refused whoever runs the test, root included (root could write it).
        string path = Path.Combine(Folder, name);
        File.WriteAllText(path, "an earlier run's");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var result = CliRunner.Run(["restore-line", "--steps", "5", "--device", "host", "--out", Folder, .. args]);
        AssertOneLineError(result, expectedExitCode: 1);
        Assert.That(result.ErrorLines[0],
            Does.EndWith($"--out: '{path}' is read-only: make it writable (chmod u+w) or remove it, or choose another --out."));
        Assert.That(result.Output, Is.Empty, "nothing trained");
        Assert.That(Directory.EnumerateFileSystemEntries(Folder), Is.EqualTo(new[] { path }), "nothing written");
        Assert.That(File.ReadAllText(path), Is.EqualTo("an earlier run's"));
    }

    /// <summary>
    /// Through a symbolic link it is the file linked to that would be written, so its permissions count: a read-only file
    /// behind a link is refused before training, root included (root could write it through the link).
    /// </summary>
    [Test]
    [UnsupportedOSPlatform("windows")]
    public void AReadOnlyOutputFileBehindALinkFailsBeforeTraining()
    {
        string target = Path.Combine(Folder, "kept.json");
        File.WriteAllText(target, "an earlier run's");
        File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        string path = Path.Combine(Folder, Summary.FileName);
        File.CreateSymbolicLink(path, target);
        var result = CliRunner.Run("restore-line", "--no-bias", "--steps", "5", "--device", "host", "--out", Folder);
        AssertOneLineError(result, expectedExitCode: 1);
        Assert.That(result.ErrorLines[0],
            Does.EndWith($"--out: '{path}' is read-only: make it writable (chmod u+w) or remove it, or choose another --out."));
        Assert.That(result.Output, Is.Empty, "nothing trained");
        Assert.That(File.ReadAllText(target), Is.EqualTo("an earlier run's"));
    }

    /// <summary>
    /// A file its owner may not write (though others may) is refused before training. Root may write it, and is not
    /// refused: run as root, the test then runs the tool as <c>nobody</c> over a file and folder of theirs.
    /// </summary>
    [Test]
    [UnsupportedOSPlatform("windows")]
    public void AnOutputFileThatCannotBeOpenedForWritingFailsBeforeTraining()
    {
        // Writable by group and others, not by its owner: its owner cannot open it for writing, root can.
        string path = Path.Combine(Folder, Summary.FileName);
        File.WriteAllText(path, "an earlier run's");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite);
        string[] args = ["restore-line", "--no-bias", "--steps", "5", "--device", "host", "--out", Folder];
        var result = CliRunner.Run(args);
        if (Environment.IsPrivilegedProcess)
        {
            Assert.That(result.ExitCode, Is.Zero, "root may write it, so the run is not refused: " + result);
            Assert.That(File.ReadAllText(path), Does.Contain("\"runs\""), "this run's summary");
            // The same file of a user who is not root, in a folder of theirs: run the tool as that user.
            foreach (string entry in Directory.EnumerateFileSystemEntries(Folder))
                if (entry != path) File.Delete(entry);
            File.WriteAllText(path, "an earlier run's");
            CliRunner.GiveToNobody(Folder);
            CliRunner.GiveToNobody(path);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite);
            result = CliRunner.RunAsNobody(args) ?? throw new IgnoreException("setpriv, to run the tool as a user who is not root, is not here");
        }
        AssertOneLineError(result, expectedExitCode: 1);
        Assert.That(result.ErrorLines[0], Does.EndWith(
            $"--out: cannot write '{path}': permission denied: make it writable or remove it, or choose another --out."));
        Assert.That(result.Output, Is.Empty, "nothing trained");
        Assert.That(Directory.EnumerateFileSystemEntries(Folder), Is.EqualTo(new[] { path }), "nothing written");
    }

    /// <summary>
    /// A file that may not be changed although its permissions allow writing (an immutable file, which not even root may
    /// change) is found when it is opened for writing, before training.
    /// </summary>
    [Test]
    public void AnOutputFileThatMayNotBeChangedFailsBeforeTraining()
    {
        string path = Path.Combine(Folder, Summary.FileName);
        File.WriteAllText(path, "an earlier run's");
        if (!FileFlags.SetImmutable(path, true))
            Assert.Ignore("chattr +i does not work here (it needs root and a file system that keeps the flag)");
        try
        {
            var result = CliRunner.Run("restore-line", "--no-bias", "--steps", "5", "--device", "host", "--out", Folder);
            AssertOneLineError(result, expectedExitCode: 1);
            Assert.That(result.ErrorLines[0], Does.EndWith(
                $"--out: cannot write '{path}': operation not permitted: make it writable or remove it, or choose another --out."));
            Assert.That(result.Output, Is.Empty, "nothing trained");
            Assert.That(Directory.EnumerateFileSystemEntries(Folder), Is.EqualTo(new[] { path }), "nothing written");
        }
        finally
        {
            FileFlags.SetImmutable(path, false);
        }
    }

    [Test]
    [UnsupportedOSPlatform("windows")]
    public void BenchRefusesAReadOnlyJsonFileBeforeMeasuring()
    {
        string file = Path.Combine(Folder, "report.json");
        File.WriteAllText(file, "{}");
        File.SetUnixFileMode(file, UnixFileMode.UserRead);
        var result = CliRunner.Run("bench", "--quick", "--device", "host", "--json", file);
        AssertOneLineError(result, expectedExitCode: 1);
        Assert.That(result.ErrorLines[0],
            Does.EndWith($"--json: '{file}' is read-only: make it writable (chmod u+w) or remove it, or name another file."));
        Assert.That(result.Output, Is.Empty, "nothing measured");
    }

    [Test]
    public void AFolderWithTheNameOfAFileTheRunDoesNotWriteIsLeftAlone()
    {
        string path = Path.Combine(Folder, Figures.BothTrained);
        Directory.CreateDirectory(path);
        var result = CliRunner.Run("restore-line", "--no-bias", "--steps", "5", "--device", "host", "--out", Folder);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(Directory.Exists(path), Is.True, "the folder is not this run's");
    }

    /// <remarks>
    /// The delete is made to fail through the remover's seam, for both kinds of failure: what makes it fail for real needs
    /// another user (a sticky folder holding that user's file, which root deletes anyway) or root (an immutable file, as in
    /// <see cref="AnEarlierFileThatCannotBeRemovedStopsTheRunWithItsResultsWritten"/>).
    /// </remarks>
    [TestCase(true, "permission denied")]
    [TestCase(false, "Device or resource busy")]
    public void AFileOfAnEarlierRunThatCannotBeRemovedIsNamedWithWhatToDo(bool denied, string reason)
    {
        string kept = Path.Combine(Folder, Figures.BothTrained);
        File.WriteAllText(kept, "");
        var tried = new List<string>();
        void Delete(string path)
        {
            tried.Add(path);
            throw denied ? new UnauthorizedAccessException($"Access to the path '{path}' is denied.") : new IOException(reason);
        }

        var e = Assert.Throws<CliException>(() => OutputFolder.RemoveFiles(Folder, [Figures.NoBias, Figures.BothTrained], delete: Delete));
        Assert.That(tried, Is.EqualTo(new[] { kept }), "only the files that exist");
        var (message, known) = ErrorReport.Describe(e!);
        Assert.That(known, Is.True, "a failure the user can fix, not a defect");
        Assert.That(message, Is.EqualTo(
            $"--out: cannot remove '{kept}', a file of an earlier run that this run does not write (left there, it would read " +
            $"as this run's): {reason}. Remove it or have it removed, or choose another --out."));
        Assert.That(kept, Does.Exist);
    }

    /// <summary>
    /// The stale files go after this run's are written, so a file that cannot be removed costs the user no results. Made
    /// to fail for real with an immutable file, which needs root and a file system that keeps the flag.
    /// </summary>
    [Test]
    public void AnEarlierFileThatCannotBeRemovedStopsTheRunWithItsResultsWritten()
    {
        string stale = Path.Combine(Folder, Figures.BothTrained);  // --no-bias writes no such figure
        File.WriteAllText(stale, "an earlier run's");
        if (!FileFlags.SetImmutable(stale, true))
            Assert.Ignore("chattr +i does not work here (it needs root and a file system that keeps the flag)");
        try
        {
            var result = CliRunner.Run("restore-line", "--no-bias", "--steps", "5", "--device", "host", "--out", Folder);
            Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
            Assert.That(result.Error, Does.Contain($"--out: cannot remove '{stale}', a file of an earlier run"));
            Assert.That(result.Output, Does.Contain("Figures (3) and summary.json are in"), "this run's results, told");
            foreach (string written in new[] { Figures.LinearFunction, Figures.NoBias, Figures.LearningCurve, Summary.FileName })
                Assert.That(Path.Combine(Folder, written), Does.Exist, "the folder held only the stale file");
        }
        finally
        {
            FileFlags.SetImmutable(stale, false);
        }
    }

    /// <summary>A report that cannot be written (here a full disk: a device like /dev/full) costs no measurement: the table is printed first.</summary>
    [Test]
    [Platform("Linux")]
    public void BenchThatCannotWriteItsJsonStillPrintsItsTable()
    {
        string full = TestDevices.FullDisk(Folder);
        var result = CliRunner.Run("bench", "--quick", "--repeats", "1", "--device", "host", "--case", "tutorial", "--json", full);
        Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
        Assert.That(result.ErrorLines.Where(line => line.StartsWith("neuron: error: ")), Is.EqualTo(new[]
        {
            $"neuron: error: --json: cannot write '{full}': No space left on device; the table above has the results.",
        }), result.ToString());
        Assert.That(new FileInfo(full).Length, Is.Zero, "still the device, not a file of the report");
        Assert.That(result.Error, Does.Not.Match(@"(?m)^\s*at \S+\(").And.Not.Contain("Exception"), "no stack trace");
        Assert.That(result.Output, Does.Contain("tutorial").And.Contain("steps/s"), "the measurements");
    }

    /// <summary>Files that cannot be written (here a full disk: a link to a device like /dev/full) cost no result: the table is printed first.</summary>
    [TestCase(Summary.FileName)]
    [TestCase(Figures.BothTrained)]
    [TestCase("neuron-long-run.hdf", "--save")]  // Save writes into the device the link leads to
    [Platform("Linux")]
    public void ARestoreLineThatCannotWriteItsFilesStillPrintsItsTable(string name, params string[] args)
    {
        string path = Path.Combine(Folder, name);
        string full = TestDevices.FullDisk(Folder);
        File.CreateSymbolicLink(path, full);
        var result = CliRunner.Run(["restore-line", "--steps", "5", "--device", "host", "--out", Folder, .. args]);
        Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
        Assert.That(result.ErrorLines.Where(line => line.StartsWith("neuron: error: ")), Is.EqualTo(new[]
        {
            $"neuron: error: --out: cannot write '{path}': No space left on device; the table above has this run's results.",
        }), result.ToString());
        Assert.That(result.Error, Does.Not.Match(@"(?m)^\s*at \S+\(").And.Not.Contain("Exception"), "no stack trace");
        Assert.That(result.Output, Does.Contain("hand-made").And.Contain("no bias"), "the table");
        Assert.That(new FileInfo(full).Length, Is.Zero, "still the device, not a file of the results");
    }

    [Test]
    public void AnUnwritableFolderIsNamedInTheError()
    {
        // Not even root can create a file in /proc.
        if (!Directory.Exists("/proc"))
            Assert.Ignore("no /proc here");
        var result = CliRunner.Run("bench", "--quick", "--device", "host", "--json", "/proc/report.json");
        AssertOneLineError(result, expectedExitCode: 1);
        Assert.That(result.ErrorLines[0], Does.EndWith("--json: cannot write to the folder '/proc': it takes no new files."));
        Assert.That(result.Error, Does.Not.Contain(".neuron-write-test"), "the probe file is ours, not the user's");
    }

    /// <summary>
    /// A folder that cannot be created is not said to take no new files: that is said of a folder that exists. Not even
    /// root can create a folder in /proc.
    /// </summary>
    [Test]
    public void AnOutputFolderThatCannotBeCreatedIsNotSaidToTakeNoNewFiles()
    {
        if (!Directory.Exists("/proc"))
            Assert.Ignore("no /proc here");
        var result = CliRunner.Run("bench", "--quick", "--device", "host", "--json", "/proc/missing/report.json");
        AssertOneLineError(result, expectedExitCode: 1);
        Assert.That(result.ErrorLines[0], Does.Contain("--json: cannot write to the folder '/proc/missing': ")
            .And.Contain("Could not find").And.Not.Contain("takes no new files"));
        Assert.That(result.Output, Is.Empty, "nothing measured");
    }

    [Test]
    public void RejectsACudaDeviceThatDoesNotExist()
    {
        var result = CliRunner.Run("restore-line", "--device", "cuda:99", "--out", Folder);
        AssertOneLineError(result, expectedExitCode: 1);
        Assert.That(result.Error, Does.Contain("CUDA"));
    }

    [Test]
    public void RejectsCudaWhenNoGpuIsPresent()
    {
        if (Device.CudaDeviceCount > 0)
            Assert.Ignore("a CUDA device is present; RejectsACudaDeviceThatDoesNotExist covers the error path");
        var result = CliRunner.Run("restore-line", "--device", "cuda", "--out", Folder);
        AssertOneLineError(result, expectedExitCode: 1);
        Assert.That(result.Error, Does.Contain("--device auto or --device host"));
    }

    [TestCase("restore-line")]
    [TestCase("bench", "--quick")]
    public void ABadNeuronBackendIsAUsageErrorNamingIt(params string[] args)
    {
        using var variable = new EnvironmentVariable(Device.BackendVariable, "gpu");
        var result = CliRunner.Run(WithOut(args));
        AssertOneLineError(result, expectedExitCode: 2);
        Assert.That(result.ErrorLines[0], Does.Contain("NEURON_BACKEND").And.Contain("'gpu'"));
        Assert.That(Directory.EnumerateFileSystemEntries(Folder), Is.Empty, "nothing written");
    }

    [Test]
    public void WithoutDeviceTheCommandsTakeNeuronBackendAsTheLibraryDoes()
    {
        using var variable = new EnvironmentVariable(Device.BackendVariable, "cuda:99");
        var result = CliRunner.Run("restore-line", "--steps", "5", "--out", Folder);
        AssertOneLineError(result, expectedExitCode: 1);
        Assert.That(result.Error, Does.Contain("CUDA"), "the error of --device cuda:99");
        var bench = CliRunner.Run("bench", "--quick", "--case", "tutorial");
        AssertOneLineError(bench, expectedExitCode: 1);

        var overridden = CliRunner.Run("restore-line", "--steps", "5", "--device", "host", "--out", Folder);
        Assert.That(overridden.ExitCode, Is.Zero, overridden.ToString());
    }

    [TestCase("restore-line", "--steps", "5")]
    [TestCase("bench", "--quick", "--case", "tutorial")]
    public void AnAbsentDeviceThatNeuronBackendChoseIsSaidToComeFromIt(params string[] args)
    {
        using var variable = new EnvironmentVariable(Device.BackendVariable, "cuda:99");
        var result = CliRunner.Run(WithOut(args));
        AssertOneLineError(result, expectedExitCode: 1);
        Assert.That(result.ErrorLines[0], Does.Contain("the environment variable NEURON_BACKEND=cuda:99 chose it")
            .And.Contain("unset NEURON_BACKEND"));

        var named = CliRunner.Run(WithOut([.. args, "--device", "cuda:99"]));
        AssertOneLineError(named, expectedExitCode: 1);
        Assert.That(named.ErrorLines[0], Does.Contain("CUDA").And.Not.Contain("NEURON_BACKEND"), "--device chose it");
    }

    [Test]
    public void ANativePathThatLoadsNothingIsToFixOrUnsetOnce()
    {
        var candidates = NativeLibraryLoader.CandidatePaths("/nonexistent", AppContext.BaseDirectory);
        var e = Assert.Throws<NativeLibraryNotFoundException>(() => NativeLibraryLoader.Load(candidates, out _, "/nonexistent"));
        var (message, known) = ErrorReport.Describe(e!);
        Assert.That(known, Is.True);
        Assert.That(message, Does.StartWith("cannot load the native library libneuron.so: ").And.Contain("/nonexistent: not found"));
        Assert.That(message, Does.Contain("NEURON_NATIVE_PATH='/nonexistent' names nothing loadable").And.Contain("or unset it"));
        Assert.That(Regex.Count(message, "NEURON_NATIVE_PATH"), Is.EqualTo(1), "the advice once: " + message);
    }

    [Test]
    public void WithoutANativePathTheAdviceToSetItIsGivenOnce()
    {
        var candidates = NativeLibraryLoader.CandidatePaths(null, "/nonexistent/app");
        var e = Assert.Throws<NativeLibraryNotFoundException>(() => NativeLibraryLoader.Load(candidates, out _));
        var (message, _) = ErrorReport.Describe(e!);
        Assert.That(message, Does.Contain("dotnet build").And.Contain("set NEURON_NATIVE_PATH to the built libneuron.so"));
        Assert.That(Regex.Count(message, "NEURON_NATIVE_PATH"), Is.EqualTo(1), "the advice once: " + message);
    }

    [TestCase("restore-line", "--steps", "99999999999", "--steps must be at most 10000000")]
    [TestCase("restore-line", "--steps", "10000001", "--steps must be at most 10000000")]
    [TestCase("restore-line", "--batch-size", "1001", "--batch-size must be at most 1000")]
    [TestCase("restore-line", "--steps", "-99999999999", "--steps must be at least 1")]
    [TestCase("restore-line", "--steps", "-5", "--steps must be at least 1")]
    [TestCase("restore-line", "--seed", "-99999999999", "--seed must be at least 0")]
    [TestCase("restore-line", "--seed", "-1", "--seed must be at least 0 (got '-1')")]
    [TestCase("restore-line", "--seed", "2147483648", "--seed must be at most 2147483647")]
    [TestCase("restore-line", "--seed", "one", "--seed must be an integer from 0 to 2147483647 (got 'one')")]
    [TestCase("bench", "--repeats", "99999999999", "--repeats must be at most 1000")]
    public void AnIntegerOutOfRangeIsToldTheRange(string command, string option, string value, string expected)
    {
        var result = CliRunner.Run(WithOut([command, option, value]));
        AssertOneLineError(result, expectedExitCode: 2);
        Assert.That(result.ErrorLines[0], Does.Contain(expected));
    }

    private string[] WithOut(string[] args) =>
        args.Length > 0 && args[0] == "restore-line" ? [.. args, "--out", Folder] : args;

    private static void AssertOneLineError(CliRunner.Result result, int? expectedExitCode)
    {
        Assert.That(result.ExitCode, expectedExitCode is null ? Is.Not.Zero : Is.EqualTo(expectedExitCode), result.ToString());
        Assert.That(result.ErrorLines, Has.Length.EqualTo(1), result.ToString());
        Assert.That(result.ErrorLines[0], Does.StartWith("neuron: error: "));
        Assert.That(result.Error, Does.Not.Match(@"(?m)^\s*at \S+\(").And.Not.Contain("Exception"), "no stack trace");
    }
}
