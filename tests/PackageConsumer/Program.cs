// Checks the NeuronInterop package as a user's project sees it: the library it loads is the one the
// package carries (from this program's folder, not NEURON_NATIVE_PATH or a build tree), of the
// package's version, and it trains: the tutorial's line on the host and on every CUDA device, with
// the same result on each (at least one device with NEURON_TEST_REQUIRE_CUDA=1). Prints what it
// found; exits 1 when a check fails.
using NeuronInterop;
using NeuronInterop.Cost;
using NeuronInterop.Handlers;
using NeuronInterop.Modules;
using NeuronInterop.Optimizers;

var failures = new List<string>();
void Check(bool ok, string what)
{
    Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what}");
    if (!ok) failures.Add(what);
}

if (Environment.GetEnvironmentVariable("NEURON_NATIVE_PATH") is { Length: > 0 } overridden)
{
    Console.Error.WriteLine($"NEURON_NATIVE_PATH is set ({overridden}): unset it, this program checks the package's own library.");
    return 2;
}

string library = Device.NativeLibraryPath;
string folder = Path.GetFullPath(AppContext.BaseDirectory);
Check(library.StartsWith(folder, StringComparison.Ordinal), $"libneuron.so loaded from {library}, under {folder}");

Version managed = typeof(Device).Assembly.GetName().Version!;
Version native = Device.NativeVersion;
Check(native == new Version(managed.Major, managed.Minor, managed.Build),
    $"library version {native}, package version {managed.ToString(3)}");

Console.WriteLine($"CUDA compiled in: {Device.IsCudaCompiled}; CUDA devices: {Device.CudaDeviceCount}" +
                  (Device.CudaUnavailableReason() is { } why ? $" ({why})" : ""));
if (Environment.GetEnvironmentVariable("NEURON_TEST_REQUIRE_CUDA") == "1")
{
    Check(Device.CudaDeviceCount > 0, "a CUDA device is used (NEURON_TEST_REQUIRE_CUDA=1)");
}

// The tutorial: y = 2x + 3 from 1000 points, batches of 16 shuffled per epoch.
var data = new float[1000, 1];
var target = new float[1000, 1];
for (int i = 0; i < 1000; i++)
{
    data[i, 0] = -3f + 6f * i / 999;
    target[i, 0] = 2f * data[i, 0] + 3f;
}

(float W, float B) Train(Device device)
{
    using var neuron = new Linear(insize: 1, outsize: 1, seed: 1, device: device);
    using var cost = new MseCost(device);
    var optimizer = new Sgd(learnRate: 0.1f);
    using var trainer = new Trainer(neuron, cost, optimizer, batchSize: 16);
    for (int epoch = 0; epoch < 20; epoch++)
        trainer.TrainFromHost(data, target, seed: (ulong)epoch);
    return (neuron.W.ToArray()[0], neuron.B!.ToArray()[0]);
}

var host = Train(Device.Host);
Check(Math.Abs(host.W - 2f) < 1e-3f && Math.Abs(host.B - 3f) < 1e-3f, $"host learnt w = {host.W:F4}, b = {host.B:F4}");
for (int index = 0; index < Device.CudaDeviceCount; index++)
{
    Device gpu = Device.Cuda(index);   // shared by the process: not disposed here
    var learnt = Train(gpu);
    Check(Math.Abs(learnt.W - host.W) < 1e-4f && Math.Abs(learnt.B - host.B) < 1e-4f,
        $"{gpu} learnt w = {learnt.W:F4}, b = {learnt.B:F4}, as the host did");
}

Console.WriteLine(failures.Count == 0 ? "package check: all passed" : $"package check: {failures.Count} failed");
return failures.Count == 0 ? 0 : 1;
