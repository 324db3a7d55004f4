// Times Module.Save and Module.Load (from a path and from a stream) for one Linear layer on the
// host, with the process's peak working set. A .NET file-based program:
//   dotnet run bench/parameter_file_bench.cs -- [insize outsize]   (default 4096 4096)
// It needs libneuron.so as the library finds it (NEURON_NATIVE_PATH, or a build of native/).
#:project ../src/NeuronInterop/NeuronInterop.csproj
#:property RuntimeIdentifier=linux-x64
#:property NeuronSkipNativeBuild=true
using System.Diagnostics;
using NeuronInterop;
using NeuronInterop.Modules;

int inSize = args.Length > 0 ? int.Parse(args[0]) : 4096, outSize = args.Length > 1 ? int.Parse(args[1]) : 4096;
string path = Path.Combine(Path.GetTempPath(), $"parameter-file-bench-{Environment.ProcessId}.hdf");
using var saved = new Linear(inSize, outSize, seed: 1, device: Device.Host, name: "layer");
using var loaded = new Linear(inSize, outSize, seed: 2, device: Device.Host, name: "layer");
try
{
    Console.WriteLine($"Linear {inSize} x {outSize} ({(inSize + 1L) * outSize * 4 / 1e6:F1} MB of parameters) on the host");
    Time("Save(path)", () => saved.Save(path));
    Console.WriteLine($"  file: {new FileInfo(path).Length / 1e6:F1} MB");
    Time("Save(FileStream at its start)", () => { using var s = File.Create(path + ".stream"); saved.Save(s); });
    Time("Save(stream that cannot seek)", () => { using var s = new ForwardOnly(File.Create(path + ".stream")); saved.Save(s); });
    File.Delete(path + ".stream");
    Time("Load(path)", () => loaded.Load(path));
    Time("Load(stream at its start)", () => { using var s = File.OpenRead(path); loaded.Load(s); });
    byte[] bytes = File.ReadAllBytes(path);
    Time("Load(MemoryStream)", () => { using var s = new MemoryStream(bytes, writable: false); loaded.Load(s); });
    Time("Load(stream that cannot seek)", () => { using var s = new BufferedStream(new ForwardOnly(File.OpenRead(path))); loaded.Load(s); });
    Console.WriteLine($"Peak working set: {Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:F0} MB");
}
finally
{
    File.Delete(path);
}

static void Time(string what, Action action)
{
    action();  // warm-up
    var times = new List<double>();
    for (int i = 0; i < 3; i++)
    {
        var clock = Stopwatch.StartNew();
        action();
        times.Add(clock.Elapsed.TotalSeconds);
    }
    Console.WriteLine($"{what,-30} best {times.Min():F3} s of 3");
}

sealed class ForwardOnly(Stream inner) : Stream
{
    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => false;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    protected override void Dispose(bool disposing) { if (disposing) inner.Dispose(); base.Dispose(disposing); }
}
